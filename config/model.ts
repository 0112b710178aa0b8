/**
 * The typed model of the estate that every component derives from. Built once from
 * validated config (see `validate.ts`); nothing here reads Pulumi config.
 */
import type {
  CephOptions,
  FabricOptions,
  FrontendOptions,
  Hardware,
  KubernetesOptions,
  MeshOptions,
  MonitoringOptions,
  NodeOptions,
  Pools,
  Role,
  Site,
  Versions,
} from "./schema";

export interface SshEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Pinned host public key, `<type> <base64>`. */
  readonly hostKey: string;
}

export interface ServerUplink {
  readonly leaf: string;
  readonly port: string;
  readonly nic: string;
  readonly speedGbps: number;
}

export interface Server {
  readonly kind: "server";
  readonly name: string;
  readonly mgmtAddress: string;
  readonly ssh: SshEndpoint;
  readonly roles: readonly Role[];
  readonly rack: string;
  readonly hardware: Hardware;
  readonly uplinks: readonly ServerUplink[];
  /** /32 on the loopback, announced into the fabric; what other tiers use to reach this host. */
  readonly loopback: string;
  readonly asn: number;
  /** Balancers only: address and NIC on the front-tier segment. */
  readonly frontend?: { readonly address: string; readonly nic: string };
}

export interface SwitchUplink {
  readonly spine: string;
  readonly port: string;
  readonly spinePort: string;
  readonly speedGbps: number;
}

export interface Switch {
  readonly kind: "switch";
  readonly name: string;
  readonly role: "spine" | "leaf";
  readonly rack?: string;
  readonly mgmtAddress: string;
  readonly ssh: SshEndpoint;
  readonly asn: number;
  readonly loopback: string;
  readonly uplinks: readonly SwitchUplink[];
}

export interface Estate {
  /** The Pulumi stack this model was built for (names only; never used to branch). */
  readonly stack: string;
  readonly site: Site;
  readonly node: NodeOptions;
  readonly pools: Pools;
  readonly versions: Versions;
  readonly switches: readonly Switch[];
  readonly servers: readonly Server[];
  readonly fabric: FabricOptions;
  readonly frontend: FrontendOptions;
  readonly kubernetes: KubernetesOptions;
  readonly ceph: CephOptions;
  readonly monitoring: MonitoringOptions;
  readonly mesh: MeshOptions;
}

/** Whether a server (or anything with roles) runs Kubernetes: K3s server or agent. */
export function isKubernetesNode(server: { readonly roles: readonly string[] }): boolean {
  return server.roles.includes("k8s-server") || server.roles.includes("k8s-agent");
}
