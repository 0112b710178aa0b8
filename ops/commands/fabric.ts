/**
 * `fabric`: the BGP sessions each switch and server should have (one per planned link,
 * both ends), and, given FRR's `vtysh -c 'show bgp summary json'` of some hosts, which of
 * their sessions are missing, not Established, with the wrong peer AS, or unexpected.
 *
 * A session is named as FRR names the peer: the local interface on an unnumbered fabric
 * (RFC 5549), the neighbor's address on a numbered one.
 */
import { z } from "zod";
import type { StackOutputs } from "../contract";
import { OpsError } from "../read";

export interface ExpectedSession {
  readonly host: string;
  /** FRR's key for the peer: the local interface (unnumbered) or the peer's address (numbered). */
  readonly peer: string;
  readonly remote: string;
  readonly remoteAs: number;
}

/** Expected sessions by host (every switch and server of the fabric, even one without links). */
export function expectedSessions(o: StackOutputs): Map<string, ExpectedSession[]> {
  const f = o.fabric;
  const asn = new Map<string, number>([...f.switches, ...f.servers].map((n) => [n.name, n.asn]));
  const out = new Map<string, ExpectedSession[]>([...asn.keys()].map((n) => [n, []]));
  for (const l of f.links)
    for (const [me, other] of [
      [l.a, l.b],
      [l.b, l.a],
    ] as const) {
      const peer = f.numbered ? other.address?.replace(/\/31$/, "") : me.iface;
      if (!peer) throw new OpsError([`outputs/fabric: numbered link ${l.a.node}-${l.b.node} without an address`]);
      const remoteAs = asn.get(other.node);
      if (remoteAs === undefined || !out.has(me.node))
        throw new OpsError([`outputs/fabric/links: ${me.node}-${other.node} names a node not in the fabric`]);
      out.get(me.node)!.push({ host: me.node, peer, remote: other.node, remoteAs });
    }
  return out;
}

const Peer = z.looseObject({ state: z.string(), remoteAs: z.union([z.number(), z.string()]).optional() });
const Summary = z.record(z.string(), z.unknown());
const Afi = z.looseObject({ peers: z.record(z.string(), Peer) });

export interface ObservedPeer {
  readonly state: string;
  readonly remoteAs?: number;
}

/** The peers of `show bgp summary json` (every address family; Established in any counts). */
export function parseBgpSummary(text: string, source: string): Map<string, ObservedPeer> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new OpsError([`${source}: not JSON (${(e as Error).message}); give vtysh -c 'show bgp summary json'`]);
  }
  const top = Summary.safeParse(json);
  if (!top.success || Array.isArray(json)) throw new OpsError([`${source}: not a 'show bgp summary json' object`]);
  // `show bgp <afi> <safi> summary json` prints one family's object itself.
  const families = "peers" in top.data ? { single: top.data } : top.data;
  const peers = new Map<string, ObservedPeer>();
  for (const [family, v] of Object.entries(families)) {
    if (!v || typeof v !== "object" || !("peers" in v)) continue;
    const afi = Afi.safeParse(v);
    if (!afi.success) {
      const issue = afi.error.issues[0];
      throw new OpsError([`${source}: ${[family, ...issue.path].join(".")}: ${issue.message}`]);
    }
    for (const [key, p] of Object.entries(afi.data.peers)) {
      const remoteAs = p.remoteAs === undefined ? undefined : Number(p.remoteAs);
      const seen = peers.get(key);
      if (!seen || (seen.state !== "Established" && p.state === "Established"))
        peers.set(key, { state: p.state, remoteAs: Number.isFinite(remoteAs) ? remoteAs : undefined });
    }
  }
  return peers;
}

export interface FabricReport {
  readonly expected: Map<string, ExpectedSession[]>;
  /** One line per problem, by host. */
  readonly problems: string[];
  /** Hosts with no summary given. */
  readonly unchecked: string[];
}

/** Compares the expected sessions with the observed peers of the hosts given. */
export function compareFabric(o: StackOutputs, observed: ReadonlyMap<string, Map<string, ObservedPeer>>): FabricReport {
  const expected = expectedSessions(o);
  const problems: string[] = [];
  for (const host of observed.keys())
    if (!expected.has(host))
      throw new OpsError([`--bgp: ${JSON.stringify(host)} is not a switch or server of the fabric`]);
  for (const [host, sessions] of expected) {
    const peers = observed.get(host);
    if (!peers) continue;
    const want = new Set(sessions.map((s) => s.peer));
    for (const s of sessions) {
      const p = peers.get(s.peer);
      if (!p) problems.push(`${host}: missing session ${s.peer} to ${s.remote} (AS ${s.remoteAs})`);
      else {
        if (p.state !== "Established") problems.push(`${host}: session ${s.peer} to ${s.remote} is ${p.state}`);
        if (p.remoteAs !== undefined && p.remoteAs !== s.remoteAs)
          problems.push(`${host}: session ${s.peer} to ${s.remote} has peer AS ${p.remoteAs}, expected ${s.remoteAs}`);
      }
    }
    for (const [key, p] of peers)
      if (!want.has(key)) problems.push(`${host}: unexpected session ${key} (${p.state}, AS ${p.remoteAs ?? "?"})`);
  }
  const unchecked = [...expected.keys()].filter((h) => !observed.has(h));
  return { expected, problems, unchecked };
}

/** The expected sessions as text, one host per block. */
export function expectedText(expected: Map<string, ExpectedSession[]>): string {
  const lines: string[] = [];
  for (const [host, sessions] of expected) {
    lines.push(`${host}: ${sessions.length} session(s)`);
    for (const s of sessions) lines.push(`  ${s.peer.padEnd(16)} -> ${s.remote} (AS ${s.remoteAs})`);
  }
  return lines.join("\n");
}
