/**
 * Deterministic allocation of loopbacks and ASNs from the pools in config.
 *
 * Order is the order of the stack file: appending a switch or a server never renumbers
 * one that exists. Switches take loopbacks from the first quarter of `pools.loopbacks`,
 * servers from the rest, so adding a switch never moves a server either. Reordering or
 * removing an entry from the middle does renumber what follows: append instead.
 */
import { Address4 } from "ip-address";

export interface LoopbackRegions {
  /** First usable offset and how many switches fit. */
  readonly switches: { readonly first: number; readonly capacity: number };
  readonly servers: { readonly first: number; readonly capacity: number };
}

/** The prefix length of a CIDR, e.g. 24 for 10.20.0.0/24. */
export function prefixLength(cidr: string): number {
  return new Address4(cidr).subnetMask;
}

export function poolSize(cidr: string): number {
  return 2 ** (32 - new Address4(cidr).subnetMask);
}

export function loopbackRegions(cidr: string): LoopbackRegions {
  const size = poolSize(cidr);
  const quarter = Math.max(1, Math.floor(size / 4));
  return {
    switches: { first: 1, capacity: Math.max(0, quarter - 1) },
    servers: { first: quarter, capacity: Math.max(0, size - quarter - 1) },
  };
}

/** The address `offset` positions after the start of `cidr`. */
export function addressAt(cidr: string, offset: number): string {
  const start = new Address4(cidr).startAddress().bigInt();
  return Address4.fromBigInt(start + BigInt(offset)).correctForm();
}

export function switchLoopback(cidr: string, switchIndex: number): string {
  return addressAt(cidr, loopbackRegions(cidr).switches.first + switchIndex);
}

export function serverLoopback(cidr: string, serverIndex: number): string {
  return addressAt(cidr, loopbackRegions(cidr).servers.first + serverIndex);
}

/*
 * The predicates below answer "no problem" when an operand is malformed: validation has
 * already reported the malformed value itself, and must not add a second, derived line.
 */
function valid(...xs: string[]): boolean {
  return xs.every((x) => Address4.isValid(x));
}

/** Whether `address` (no prefix) lies inside `cidr`; true when either is malformed. */
export function inPool(address: string, cidr: string): boolean {
  if (!valid(address, cidr)) return true;
  return new Address4(address).isInSubnet(new Address4(cidr));
}

/** Whether `address` is the network or broadcast address of `cidr` (only for pools larger than /31). */
export function isNetworkOrBroadcast(address: string, cidr: string): boolean {
  if (!valid(address, cidr)) return false;
  const net = new Address4(cidr);
  if (net.subnetMask >= 31) return false;
  return address === net.startAddress().correctForm() || address === net.endAddress().correctForm();
}

export function poolsOverlap(a: string, b: string): boolean {
  if (!valid(a, b)) return false;
  const x = new Address4(a);
  const y = new Address4(b);
  return x.startAddress().isInSubnet(y) || y.startAddress().isInSubnet(x);
}

/** Private ASN ranges (RFC 6996). */
export function isPrivateAsn(asn: number): boolean {
  return (asn >= 64512 && asn <= 65534) || (asn >= 4200000000 && asn <= 4294967294);
}

/** Server-facing : spine-facing capacity of a leaf, rounded to 2 decimals. */
export function oversubscriptionRatio(serverGbps: number, spineGbps: number): number {
  if (spineGbps <= 0) return Infinity;
  return Math.round((serverGbps / spineGbps) * 100) / 100;
}

/** Regions of `pools.fabricLinks` in /31 slots: leaf-spine links first, server links after. */
export function fabricLinkRegions(cidr: string): {
  switches: { first: number; capacity: number };
  servers: { first: number; capacity: number };
} {
  const slots = poolSize(cidr) / 2;
  const quarter = Math.floor(slots / 4);
  return { switches: { first: 0, capacity: quarter }, servers: { first: quarter, capacity: slots - quarter } };
}

/**
 * Each switch's ASN: its own `asn` when set, else the spines' shared ASN, or `leafBase`
 * plus the leaf's position among the leaves (so appending a leaf renumbers none).
 */
export function switchAsns(
  switches: readonly { readonly role: "spine" | "leaf"; readonly asn?: number }[],
  asns: { readonly spine: number; readonly leafBase: number },
): number[] {
  let leafIndex = 0;
  return switches.map((s) => {
    const auto = s.role === "spine" ? asns.spine : asns.leafBase + leafIndex;
    if (s.role === "leaf") leafIndex++;
    return s.asn ?? auto;
  });
}

/** Each server's ASN: its own `asn` when pinned, else `serverBase` plus its position. */
export function serverAsns(servers: readonly { readonly asn?: number }[], serverBase: number): number[] {
  return servers.map((s, i) => s.asn ?? serverBase + i);
}

/**
 * Every loopback: a host's own `loopback` when pinned, else the one its position
 * allocates (switches from the first quarter of the pool, servers from the rest).
 */
export function resolveLoopbacks(
  pool: string,
  switches: readonly { readonly loopback?: string }[],
  servers: readonly { readonly loopback?: string }[],
): { switches: string[]; servers: string[] } {
  return {
    switches: switches.map((s, i) => s.loopback ?? switchLoopback(pool, i)),
    servers: servers.map((s, i) => s.loopback ?? serverLoopback(pool, i)),
  };
}

/** A server's uplinks with the speed of the NIC each one uses (0 when the NIC is not listed). */
export function uplinksWithSpeed<U extends { readonly nic: string }>(server: {
  readonly hardware: { readonly nics: readonly { readonly name: string; readonly speedGbps: number }[] };
  readonly uplinks: readonly U[];
}): (U & { speedGbps: number })[] {
  const speed = new Map(server.hardware.nics.map((n) => [n.name, n.speedGbps]));
  return server.uplinks.map((u) => ({ ...u, speedGbps: speed.get(u.nic) ?? 0 }));
}

/** A leaf's server-facing and spine-facing capacity and their ratio: one derivation for rules and plan. */
export function leafOversubscription(
  leaf: { readonly name: string; readonly uplinks: readonly { readonly speedGbps: number }[] },
  servers: readonly { readonly uplinks: readonly { readonly leaf: string; readonly speedGbps: number }[] }[],
): { serverGbps: number; spineGbps: number; ratio: number } {
  const spineGbps = leaf.uplinks.reduce((n, u) => n + u.speedGbps, 0);
  const serverGbps = servers.reduce(
    (n, s) => n + s.uplinks.filter((u) => u.leaf === leaf.name).reduce((m, u) => m + u.speedGbps, 0),
    0,
  );
  return { serverGbps, spineGbps, ratio: oversubscriptionRatio(serverGbps, spineGbps) };
}

/** How many /31s a numbered fabric needs: leaf-spine links and server links. */
export function fabricLinkCounts(
  leaves: readonly { readonly uplinks: readonly unknown[] }[],
  servers: readonly { readonly uplinks: readonly unknown[] }[],
): { switches: number; servers: number } {
  return {
    switches: leaves.reduce((n, l) => n + l.uplinks.length, 0),
    servers: servers.reduce((n, s) => n + s.uplinks.length, 0),
  };
}

/**
 * VRRP priorities of the balancers in order: the first is the preferred master. keepalived
 * takes 1-254 (255 is the address owner); a step of 10 leaves room for manual overrides.
 */
export const VRRP_FIRST_PRIORITY = 150;
export const VRRP_PRIORITY_STEP = 10;
/** The most balancers whose priorities stay within 1-254 with the step above. */
export const VRRP_MAX_BALANCERS = Math.floor((VRRP_FIRST_PRIORITY - 1) / VRRP_PRIORITY_STEP) + 1;

export function vrrpPriorities(count: number): number[] {
  return Array.from({ length: count }, (_, i) => VRRP_FIRST_PRIORITY - VRRP_PRIORITY_STEP * i);
}

export type CephDeviceClass = "nvme" | "ssd" | "hdd";

/** One replicated RBD pool per storage tier, on a CRUSH rule of one device class. */
export interface CephPoolPlan {
  readonly name: string;
  /** The CRUSH rule: `hot` or `warm`. */
  readonly rule: "hot" | "warm";
  readonly deviceClass: CephDeviceClass;
  /** The hosts that carry OSDs of the class (the failure domain is the host). */
  readonly hosts: readonly string[];
  readonly size: number;
  readonly minSize: number;
}

/**
 * The Kubernetes volume pools the model implies: `kube-hot` on NVMe (or SSD where there is
 * no NVMe) and `kube-warm` on HDD, each only where OSDs of its class exist. One
 * derivation for the Ceph rules and the Ceph component.
 */
export function cephPools(
  servers: readonly {
    readonly name: string;
    readonly roles: readonly string[];
    readonly hardware: { readonly disks: readonly { readonly class: CephDeviceClass; readonly use: string }[] };
  }[],
  ceph: { readonly replicas: number; readonly minSize: number },
): CephPoolPlan[] {
  const hostsWith = (c: CephDeviceClass) =>
    servers
      .filter((s) => s.roles.includes("ceph-osd") && s.hardware.disks.some((d) => d.use === "osd" && d.class === c))
      .map((s) => s.name);
  const nvme = hostsWith("nvme");
  const ssd = hostsWith("ssd");
  const hdd = hostsWith("hdd");
  const pools: CephPoolPlan[] = [];
  const hot: CephDeviceClass | undefined = nvme.length ? "nvme" : ssd.length ? "ssd" : undefined;
  if (hot)
    pools.push({
      name: "kube-hot",
      rule: "hot",
      deviceClass: hot,
      hosts: hot === "nvme" ? nvme : ssd,
      size: ceph.replicas,
      minSize: ceph.minSize,
    });
  if (hdd.length)
    pools.push({
      name: "kube-warm",
      rule: "warm",
      deviceClass: "hdd",
      hosts: hdd,
      size: ceph.replicas,
      minSize: ceph.minSize,
    });
  return pools;
}

/** Nodes that run workloads: the agents when there are any (the servers are tainted then), else the servers. */
export function workloadNodeCount(servers: readonly { readonly roles: readonly string[] }[]): number {
  const agents = servers.filter((s) => s.roles.includes("k8s-agent")).length;
  return agents || servers.filter((s) => s.roles.includes("k8s-server")).length;
}

/** Nodes a replicated monitoring stack needs: one per Alertmanager of its gossip cluster. */
export const MONITORING_HA_NODES = 3;

/**
 * Whether monitoring is replicated (Prometheus 2, Alertmanager 3): as configured, else when
 * the cluster is highly available and has the nodes for it.
 */
export function monitoringReplicated(
  configured: boolean | undefined,
  kubernetesHighAvailability: boolean,
  servers: readonly { readonly roles: readonly string[] }[],
): boolean {
  return configured ?? (kubernetesHighAvailability && workloadNodeCount(servers) >= MONITORING_HA_NODES);
}
