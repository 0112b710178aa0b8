/**
 * From the estate model to the K3s renderers' input: the one place that reads the model
 * for the Kubernetes cluster. `render.ts` and `values.ts` take only these inputs.
 */
import type { Estate, Server } from "../../config/model";
import type { K3sClusterInput, K3sEtcdS3, K3sNode } from "./render";

/** The subset of the model the cluster reads. */
export type KubernetesModel = Pick<Estate, "servers" | "pools" | "versions" | "kubernetes" | "frontend" | "site">;

/** Used when `kubernetes.k3s.sha256` is unset: no binary has it, so the install refuses any. */
export const UNSET_SHA256 = "0".repeat(64);

/**
 * What to tell the operator when the checksum is missing or a placeholder (all zeros):
 * the plan still runs, every install stops at verification. Undefined when it is set.
 */
export function checksumWarning(estate: Pick<KubernetesModel, "kubernetes" | "versions">): string | undefined {
  const sha = estate.kubernetes.k3s.sha256;
  if (sha !== undefined && !/^0+$/.test(sha)) return undefined;
  return `estate:kubernetes.k3s.sha256: ${sha === undefined ? "(missing)" : "is a placeholder (all zeros)"}: every K3s install will stop at checksum verification; set it to the amd64 line of sha256sum-amd64.txt of ${estate.versions.k3s}`;
}

const byName = (a: { readonly name: string }, b: { readonly name: string }): number =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/** Labels from the node's rack and roles (prefixes kubelet may set on its own node). */
export function nodeLabels(s: Server): string[] {
  return [`topology.kubernetes.io/zone=${s.rack}`, ...[...s.roles].sort().map((r) => `role.estate.io/${r}=true`)];
}

/**
 * The release URL of a K3s binary: `<mirror>/<version>/k3s`, with the `+` of the version
 * escaped as GitHub's release layout has it.
 */
export function k3sBinaryUrl(mirror: string, version: string): string {
  return `${mirror}/${encodeURIComponent(version)}/k3s`;
}

export function k3sInputFor(
  estate: KubernetesModel,
  ceph: { readonly rgwEndpoint?: string; readonly bucket?: string } = {},
): K3sClusterInput {
  const servers = estate.servers.filter((s) => s.roles.includes("k8s-server")).sort(byName);
  const agents = estate.servers.filter((s) => s.roles.includes("k8s-agent")).sort(byName);
  if (servers.length === 0) throw new Error("no server has role k8s-server");
  // With agents to carry the workloads, the servers keep the control plane to themselves.
  const serverTaints = agents.length ? ["node-role.kubernetes.io/control-plane=true:NoSchedule"] : [];
  const node = (s: Server, kind: "server" | "agent"): K3sNode => ({
    name: s.name,
    kind,
    address: s.loopback,
    labels: nodeLabels(s),
    taints: kind === "server" ? serverTaints : [],
  });
  const k = estate.kubernetes;
  let s3: K3sEtcdS3 | undefined;
  if (ceph.rgwEndpoint && ceph.bucket)
    s3 = { endpoint: ceph.rgwEndpoint.replace(/^https?:\/\//, ""), bucket: ceph.bucket, folder: "k3s-etcd" };
  const serverNodes = servers.map((s) => node(s, "server"));
  return {
    version: estate.versions.k3s,
    binaryUrl: k3sBinaryUrl(k.k3s.url, estate.versions.k3s),
    sha256: k.k3s.sha256 ?? UNSET_SHA256,
    firstServer: serverNodes[0],
    servers: serverNodes,
    agents: agents.map((s) => node(s, "agent")),
    podCidr: estate.pools.podCidr,
    serviceCidr: estate.pools.serviceCidr,
    apiEndpoint: {
      name: k.apiEndpoint.name ?? `api.${estate.site.domain}`,
      address: k.apiEndpoint.address ?? estate.frontend.vip,
    },
    etcdSnapshots: { schedule: k.etcdSnapshots.schedule, retention: k.etcdSnapshots.retention, ...(s3 ? { s3 } : {}) },
  };
}

/**
 * The input of `renderApiStream` for the front tier's balancers: the VIP and every K3s
 * server's loopback, by name. (For the front tier to include in its nginx.conf.)
 */
export function apiStreamInputFor(estate: {
  readonly servers: readonly { readonly name: string; readonly roles: readonly string[]; readonly loopback: string }[];
  readonly frontend: { readonly vip: string };
}): {
  vip: string;
  servers: { name: string; address: string }[];
} {
  return {
    vip: estate.frontend.vip,
    servers: estate.servers
      .filter((s) => s.roles.includes("k8s-server"))
      .sort(byName)
      .map((s) => ({ name: s.name, address: s.loopback })),
  };
}
