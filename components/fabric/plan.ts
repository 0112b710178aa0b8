/**
 * The fabric plan, derived from the estate model only: who peers with whom over which
 * interfaces, at what speed, with which addresses. Pure (no Pulumi).
 *
 * Loopbacks and ASNs come from the model (`config/allocate.ts`, `config/validate.ts`):
 * one ASN shared by the spines, one per leaf, one per server (RFC 7938). Fabric links are
 * unnumbered (eBGP over IPv6 link-local, RFC 5549) unless `fabric.numbered`; then each
 * link gets a /31 from `pools.fabricLinks`: leaf-spine links from the first quarter of the
 * pool in leaf order, server links from the rest in server order, so appending a leaf or a
 * server never renumbers a link that exists.
 */
import { Address4 } from "ip-address";
import { fabricLinkRegions, leafOversubscription } from "../../config/allocate";
import type { Estate } from "../../config/model";
import type { FabricOutput } from "./output";

export interface LinkEnd {
  readonly node: string;
  readonly iface: string;
  /** `a.b.c.d/31` on numbered fabrics; absent on unnumbered ones. */
  readonly address?: string;
}

export interface FabricLink {
  readonly kind: "leaf-spine" | "server-leaf";
  /** The leaf (leaf-spine) or the server (server-leaf). */
  readonly a: LinkEnd;
  /** The spine (leaf-spine) or the leaf (server-leaf). */
  readonly b: LinkEnd;
  readonly speedGbps: number;
}

export interface FabricNode {
  readonly name: string;
  readonly kind: "spine" | "leaf" | "server";
  readonly asn: number;
  /** Address without prefix length; configured as /32 on `lo`. */
  readonly loopback: string;
  /** Leaves only: the rack the leaf stands in. */
  readonly rack?: string;
}

export interface Oversubscription {
  readonly leaf: string;
  readonly serverGbps: number;
  readonly spineGbps: number;
  /** server-facing : spine-facing capacity, two decimals; Infinity without uplinks. */
  readonly ratio: number;
}

/** One BGP session as seen from one node. */
export interface Session {
  /** Local interface. */
  readonly iface: string;
  /** Peer address on numbered links; absent on unnumbered ones (peer by interface). */
  readonly peerAddress?: string;
  readonly localAddress?: string;
  readonly peer: string;
}

export interface FabricPlan {
  readonly numbered: boolean;
  readonly nodes: readonly FabricNode[];
  readonly links: readonly FabricLink[];
  readonly oversubscription: readonly Oversubscription[];
}

/** What the plan is derived from: the switches and servers in stack-file order, the pools, the options. */
export type FabricPlanInput = Pick<Estate, "switches" | "servers" | "pools" | "fabric">;

/** The /31 at `slot` of `cidr`: [even end, odd end] with their prefix length. */
function slash31(cidr: string, slot: number): [string, string] {
  const start = new Address4(cidr).startAddress().bigInt() + BigInt(slot * 2);
  return [`${Address4.fromBigInt(start).correctForm()}/31`, `${Address4.fromBigInt(start + 1n).correctForm()}/31`];
}

export function planFabric(estate: FabricPlanInput): FabricPlan {
  const numbered = estate.fabric.numbered;
  const pool = estate.pools.fabricLinks;
  if (numbered && !pool) throw new Error("estate:pools.fabricLinks is required when fabric.numbered is true");
  const regions = numbered && pool ? fabricLinkRegions(pool) : undefined;

  const leaves = estate.switches.filter((s) => s.role === "leaf");
  const links: FabricLink[] = [];
  let slot = 0;
  const ends = (region: "switches" | "servers", index: number): [string | undefined, string | undefined] => {
    if (!regions || !pool) return [undefined, undefined];
    const r = regions[region];
    if (index >= r.capacity)
      throw new Error(
        `estate:pools.fabricLinks: ${pool} holds ${r.capacity} ${region === "switches" ? "leaf-spine" : "server"} /31 links; the fabric needs more, use a larger pool`,
      );
    return slash31(pool, r.first + index);
  };
  for (const leaf of leaves)
    for (const u of leaf.uplinks) {
      const [a, b] = ends("switches", slot++);
      links.push({
        kind: "leaf-spine",
        a: { node: leaf.name, iface: u.port, ...(a ? { address: a } : {}) },
        b: { node: u.spine, iface: u.spinePort, ...(b ? { address: b } : {}) },
        speedGbps: u.speedGbps,
      });
    }
  slot = 0;
  for (const server of estate.servers)
    for (const u of server.uplinks) {
      const [a, b] = ends("servers", slot++);
      links.push({
        kind: "server-leaf",
        a: { node: server.name, iface: u.nic, ...(a ? { address: a } : {}) },
        b: { node: u.leaf, iface: u.port, ...(b ? { address: b } : {}) },
        speedGbps: u.speedGbps,
      });
    }

  // The same derivation the fabric rules warn from (config/allocate.ts).
  const oversubscription = leaves.map((leaf) => ({ leaf: leaf.name, ...leafOversubscription(leaf, estate.servers) }));

  return {
    numbered,
    nodes: [
      ...estate.switches.map((s) => ({
        name: s.name,
        kind: s.role,
        asn: s.asn,
        loopback: s.loopback,
        ...(s.role === "leaf" && s.rack ? { rack: s.rack } : {}),
      })),
      ...estate.servers.map((s) => ({ name: s.name, kind: "server" as const, asn: s.asn, loopback: s.loopback })),
    ],
    links,
    oversubscription,
  };
}

/** The sessions of `node`, in link order. */
export function sessionsOf(plan: FabricPlan, node: string): Session[] {
  const out: Session[] = [];
  for (const l of plan.links) {
    if (l.a.node === node) out.push(session(l.a, l.b));
    else if (l.b.node === node) out.push(session(l.b, l.a));
  }
  return out;
}

function session(local: LinkEnd, remote: LinkEnd): Session {
  return {
    iface: local.iface,
    peer: remote.node,
    ...(local.address ? { localAddress: local.address } : {}),
    ...(remote.address ? { peerAddress: remote.address.replace(/\/\d+$/, "") } : {}),
  };
}

/** The stack output `fabric` (the contract in `./output.ts`). */
export function fabricOutput(plan: FabricPlan): FabricOutput {
  const end = (e: LinkEnd): FabricOutput["links"][number]["a"] => ({
    node: e.node,
    iface: e.iface,
    ...(e.address ? { address: e.address } : {}),
  });
  return {
    numbered: plan.numbered,
    switches: plan.nodes.flatMap((n): FabricOutput["switches"] => {
      if (n.kind === "spine") return [{ name: n.name, role: "spine", asn: n.asn, loopback: n.loopback }];
      if (n.kind === "leaf") return [{ name: n.name, role: "leaf", rack: n.rack!, asn: n.asn, loopback: n.loopback }];
      return [];
    }),
    servers: plan.nodes
      .filter((n) => n.kind === "server")
      .map((n) => ({ name: n.name, asn: n.asn, loopback: n.loopback })),
    links: plan.links.map((l) => ({ a: end(l.a), b: end(l.b), speedGbps: l.speedGbps })),
    oversubscription: plan.oversubscription.map((o) => ({ leaf: o.leaf, ratio: o.ratio })),
  };
}
