/**
 * Synthetic estates built from the same model as the real stacks: N servers in R racks,
 * two leaves per rack, S spines, every server cabled to both leaves of its rack and
 * every leaf to every spine. Used by tests, labs and the benchmark. Pure.
 */
import { createHash } from "crypto";
import { Address4 } from "ip-address";

export interface SynthOptions {
  readonly servers: number;
  readonly racks: number;
  /** @default 2 */
  readonly spines?: number;
  /** @default "synth" */
  readonly name?: string;
}

/** A well-formed ed25519 host key derived from a name (synthetic hosts have no real key). */
export function syntheticHostKey(name: string): string {
  const type = Buffer.from("ssh-ed25519");
  const key = createHash("sha256").update(`estate-synthetic-host-key:${name}`).digest();
  const blob = Buffer.alloc(4 + type.length + 4 + key.length);
  blob.writeUInt32BE(type.length, 0);
  type.copy(blob, 4);
  blob.writeUInt32BE(key.length, 4 + type.length);
  key.copy(blob, 8 + type.length);
  return `ssh-ed25519 ${blob.toString("base64")}`;
}

/** The smallest CIDR prefix of `base` that holds `count` addresses plus network and broadcast. */
function poolFor(base: string, count: number, minPrefix = 24): string {
  let prefix = minPrefix;
  while (prefix > 8 && 2 ** (32 - prefix) < count + 2) prefix--;
  const start = new Address4(`${base}/${prefix}`).startAddress().correctForm();
  return `${start}/${prefix}`;
}

function at(cidr: string, offset: number): string {
  return Address4.fromBigInt(new Address4(cidr).startAddress().bigInt() + BigInt(offset)).correctForm();
}

/** Roles by position: 3 (or 5) K3s servers (the first also runs RGW), 2 balancers, then every third an OSD host, the rest agents. */
function rolesFor(i: number, n: number): string[] {
  const k8sServers = n >= 100 ? 5 : 3;
  if (i === 0) return ["k8s-server", "ceph-mon", "ceph-mgr", "ceph-rgw"];
  if (i < k8sServers) return ["k8s-server", "ceph-mon", "ceph-mgr"];
  if (i < k8sServers + 2) return ["lb"];
  if ((i - k8sServers - 2) % 3 === 0) return ["ceph-osd"];
  return ["k8s-agent"];
}

/** The stack config (`config:` map of a Pulumi.<stack>.yaml) of a synthetic estate. */
export function synthesize(o: SynthOptions): Record<string, unknown> {
  const spines = o.spines ?? 2;
  if (o.servers < 6) throw new Error("--servers must be at least 6 (3 K3s servers, 2 balancers, 1 OSD host)");
  if (o.racks < 1 || o.racks > o.servers) throw new Error("--racks must be between 1 and the number of servers");
  if (spines < 1) throw new Error("--spines must be at least 1");
  const switchCount = spines + 2 * o.racks;
  const mgmt = poolFor("10.0.0.0", switchCount + o.servers + 10);
  const loopbacks = poolFor("10.250.0.0", 4 * Math.max(switchCount + 1, Math.ceil((o.servers + 2) / 3)));
  const perRack = Math.ceil(o.servers / o.racks);
  const spineNames = Array.from({ length: spines }, (_, i) => `spine-${i + 1}`);
  const switches: Record<string, unknown>[] = spineNames.map((name, i) => ({
    name,
    role: "spine",
    mgmtAddress: at(mgmt, 1 + i),
    hostKey: syntheticHostKey(name),
  }));
  for (let r = 0; r < o.racks; r++) {
    for (const side of ["a", "b"]) {
      const name = `leaf-${r + 1}${side}`;
      const li = 2 * r + (side === "a" ? 0 : 1);
      switches.push({
        name,
        role: "leaf",
        rack: `r${r + 1}`,
        mgmtAddress: at(mgmt, 1 + spines + li),
        hostKey: syntheticHostKey(name),
        uplinks: spineNames.map((spine, s) => ({
          spine,
          port: `swp${perRack + 1 + s}`,
          spinePort: `swp${li + 1}`,
          speedGbps: 400,
        })),
      });
    }
  }
  const servers: Record<string, unknown>[] = [];
  let lb = 0;
  for (let i = 0; i < o.servers; i++) {
    const rack = Math.floor(i / perRack);
    const port = `swp${(i % perRack) + 1}`;
    const name = `srv-${String(i + 1).padStart(4, "0")}`;
    const roles = rolesFor(i, o.servers);
    const osd = roles.includes("ceph-osd");
    const server: Record<string, unknown> = {
      name,
      mgmtAddress: at(mgmt, 1 + switchCount + i),
      hostKey: syntheticHostKey(name),
      roles,
      rack: `r${rack + 1}`,
      hardware: {
        sockets: 2,
        cores: 64,
        memoryGiB: 512,
        disks: [
          { path: `/dev/disk/by-id/ata-SYNTH_OS_${name}`, class: "ssd", use: "os" },
          ...Array.from({ length: 4 }, (_, d) => ({
            path: `/dev/disk/by-id/nvme-SYNTH_${name}_${d}`,
            class: "nvme",
            use: osd ? "osd" : "spare",
          })),
        ],
        nics: [
          { name: "ens1f0", speedGbps: 100 },
          { name: "ens1f1", speedGbps: 100 },
          ...(roles.includes("lb") ? [{ name: "eno1", speedGbps: 25 }] : []),
        ],
      },
      uplinks: [
        { leaf: `leaf-${rack + 1}a`, port, nic: "ens1f0" },
        { leaf: `leaf-${rack + 1}b`, port, nic: "ens1f1" },
      ],
    };
    if (roles.includes("lb")) server.frontend = { address: `192.168.100.${11 + lb++}`, nic: "eno1" };
    servers.push(server);
  }
  const osdHosts = servers.filter((s) => (s.roles as string[]).includes("ceph-osd")).length;
  return {
    "estate:site": { domain: `${o.name ?? "synth"}.estate.internal`, timeServers: [at(mgmt, 2 ** 8 - 6)] },
    "estate:node": { requireSecureBoot: false, requireTpm: false },
    "estate:pools": {
      management: mgmt,
      loopbacks,
      frontend: "192.168.100.0/24",
      podCidr: "172.16.0.0/14",
      serviceCidr: "172.20.0.0/16",
    },
    "estate:switches": switches,
    "estate:servers": servers,
    "estate:frontend": { vip: "192.168.100.10" },
    "estate:ceph": { replicas: Math.min(3, osdHosts), minSize: Math.max(1, Math.min(2, osdHosts - 1)) },
  };
}
