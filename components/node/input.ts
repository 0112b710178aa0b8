/**
 * From the estate model to the node renderers' inputs: the one place that reads config
 * for a hardware node's scripts. `render.ts` takes only these inputs.
 */
import { prefixLength } from "../../config/allocate";
import { type Estate, isKubernetesNode, type Server } from "../../config/model";
import { EXPORTERS } from "../monitoring/conventions";
import { type BaselineInput, type NetworkInput, type PreflightInput, gbpsToMbps } from "./render";

/**
 * Packages every node gets, and per role. Every server is a routed host on the fabric:
 * FRR, and frr-pythontools for frr-reload.py (see components/fabric).
 */
const BASE_PACKAGES = [
  "chrony",
  "openssh-server",
  "iproute2",
  "nftables",
  "curl",
  "jq",
  "ethtool",
  "lsb-release",
  "frr",
  "frr-pythontools",
  // Monitoring: configured by the baseline (its drop-in is in place before the install).
  EXPORTERS.node.package,
];
const ROLE_PACKAGES: Record<string, readonly string[]> = {
  "k8s-server": ["conntrack", "socat", "ipset"],
  "k8s-agent": ["conntrack", "socat", "ipset"],
  "ceph-mon": ["lvm2", "podman"],
  "ceph-mgr": ["lvm2", "podman"],
  "ceph-osd": ["lvm2", "podman"],
  "ceph-rgw": ["lvm2", "podman"],
  // libnginx-mod-stream: the balancers pass the Kubernetes API (TCP 6443) through on the VIP.
  // openssl: the front tier reads the served certificate's notAfter for monitoring.
  lb: ["nginx", "libnginx-mod-stream", "keepalived", "openssl"],
};

export function preflightInputFor(server: Server, estate: Pick<Estate, "node">): PreflightInput {
  const hw = server.hardware;
  return {
    host: server.name,
    hardware: {
      sockets: hw.sockets,
      cores: hw.cores,
      memoryGiB: hw.memoryGiB,
      disks: hw.disks.map((d) => ({
        path: d.path,
        class: d.class,
        use: d.use,
        ...(d.serial !== undefined ? { serial: d.serial } : {}),
        ...(d.sizeGB !== undefined ? { sizeGB: d.sizeGB } : {}),
      })),
      nics: hw.nics.map((n) => ({ name: n.name, speedGbps: n.speedGbps })),
    },
    requireSecureBoot: estate.node.requireSecureBoot,
    requireTpm: estate.node.requireTpm,
    memoryTolerancePercent: estate.node.memoryTolerancePercent,
  };
}

export function networkInputFor(server: Server, estate: Pick<Estate, "pools" | "frontend">): NetworkInput {
  const seg = estate.pools.frontend;
  return {
    host: server.name,
    uplinks: server.uplinks.map((u) => ({
      nic: u.nic,
      speedMbps: gbpsToMbps(u.speedGbps),
      peer: `${u.leaf} ${u.port}`,
    })),
    ...(server.frontend
      ? {
          frontend: {
            nic: server.frontend.nic,
            address: server.frontend.address,
            prefixLength: prefixLength(seg),
            segment: seg,
            ...(estate.frontend.gateway ? { gateway: estate.frontend.gateway } : {}),
          },
        }
      : {}),
  };
}

export function baselineInputFor(server: Server, estate: Pick<Estate, "site" | "node">): BaselineInput {
  const packages = new Set<string>(BASE_PACKAGES);
  for (const r of server.roles) for (const p of ROLE_PACKAGES[r] ?? []) packages.add(p);
  for (const p of estate.node.extraPackages) packages.add(p);
  return {
    host: server.name,
    fqdn: `${server.name}.${estate.site.domain}`,
    // The other tiers reach a host by its fabric loopback (Kubernetes, Ceph advertise it).
    address: server.loopback,
    timezone: estate.site.timezone,
    timeServers: estate.site.timeServers,
    sshUser: server.ssh.user,
    kubernetes: isKubernetesNode(server),
    balancer: server.roles.includes("lb"),
    rpFilter: estate.node.rpFilter,
    packages: [...packages].sort(),
    exporterAddress: server.loopback,
  };
}
