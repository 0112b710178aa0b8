/**
 * How a stack's config selects and wires the components, in dependency order. Stacks
 * differ in config only: nothing here looks at the stack's name. Only the node
 * components receive the SSH key; every other component takes the nodes it acts on.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { EstateSecrets } from "../config/load";
import type { Estate } from "../config/model";
import { CephCluster, type CephOutputs } from "../components/ceph";
import { SpineLeafFabric } from "../components/fabric";
import type { FabricOutput } from "../components/fabric/output";
import { Frontend } from "../components/frontend";
import type { FrontendOutput } from "../components/frontend/output";
import { KubernetesCluster } from "../components/kubernetes";
import type { KubernetesOutput } from "../components/kubernetes/output";
import { ServiceMesh } from "../components/mesh";
import type { MeshOutput } from "../components/mesh/output";
import { Monitoring } from "../components/monitoring";
import type { MonitoringOutput } from "../components/monitoring/output";
import { HardwareNode, NetworkSwitch, type NodeOutputs } from "../components/node";
import type { SwitchOutput } from "../components/node/output";
import { chunks, phases } from "./phase";
import { SCHEMA_VERSION, type SiteOutput } from "../ops/contract";

/** The stack outputs, as `ops/contract.ts` defines them (Outputs where values come later). */
export interface EstateOutputs {
  readonly schemaVersion: string;
  readonly site: SiteOutput;
  readonly nodes: NodeOutputs[];
  readonly switches: SwitchOutput[];
  readonly fabric: pulumi.Output<FabricOutput>;
  readonly frontend: pulumi.Output<FrontendOutput>;
  readonly ceph: CephOutputs;
  readonly kubernetes: KubernetesOutput;
  readonly mesh: MeshOutput;
  readonly monitoring: MonitoringOutput;
  /** Grafana's admin password (secret): `pulumi stack output --show-secrets grafanaAdminPassword`. */
  readonly grafanaAdminPassword: pulumi.Output<string>;
  /** The admin kubeconfig (secret), for ops scripts: `pulumi stack output --show-secrets kubeconfig`. */
  readonly kubeconfig: pulumi.Output<string>;
}

/** Nodes created in one phase: enough to keep the engine busy, few enough to bound pending state. */
const NODE_BATCH = 25;
/** Hosts whose children a large component creates in one phase (a few resources each). */
const HOST_BATCH = 50;

/**
 * In a preview, each component (and each batch of nodes) is registered before the next
 * starts (stacks/phase.ts): a new component ends with `await registered();`. A component
 * with children per host offers `create(…, registered, HOST_BATCH)`, which registers them
 * in batches.
 */
export async function composeEstate(estate: Estate, secrets: EstateSecrets): Promise<EstateOutputs> {
  const registered = phases();
  const privateKey = secrets.sshPrivateKey;
  const { site, node, pools, frontend: frontendOptions } = estate;
  const servers: HardwareNode[] = [];
  for (const batch of chunks(estate.servers, NODE_BATCH)) {
    for (const server of batch)
      servers.push(new HardwareNode(server.name, { server, site, node, pools, frontend: frontendOptions, privateKey }));
    await registered();
  }
  const switches: NetworkSwitch[] = [];
  for (const batch of chunks(estate.switches, NODE_BATCH)) {
    for (const s of batch) switches.push(new NetworkSwitch(s.name, { switch: s, privateKey }));
    await registered();
  }
  const nodes = Object.fromEntries(servers.map((n) => [n.server.name, n]));

  const fabric = await SpineLeafFabric.create(
    "fabric",
    {
      switches: estate.switches,
      servers: estate.servers,
      pools,
      fabric: estate.fabric,
      nodes: { ...nodes, ...Object.fromEntries(switches.map((s) => [s.switch.name, s])) },
    },
    registered,
    HOST_BATCH,
  );
  const frontend = new Frontend("frontend", {
    servers: estate.servers,
    pools,
    frontend: frontendOptions,
    kubernetes: estate.kubernetes,
    tlsCertificate: secrets.tlsCertificate,
    tlsKey: secrets.tlsKey,
    nodes,
  });
  await registered();

  const ceph = new CephCluster("ceph", {
    servers: estate.servers,
    pools,
    versions: estate.versions,
    ceph: estate.ceph,
    nodes,
  });
  await registered();

  const kubernetes = await KubernetesCluster.create(
    "kubernetes",
    {
      servers: estate.servers,
      pools,
      versions: estate.versions,
      kubernetes: estate.kubernetes,
      frontend: frontendOptions,
      site,
      nodes,
      ceph,
      endpoint: frontend,
    },
    registered,
    HOST_BATCH,
  );

  const mesh = new ServiceMesh("mesh", {
    servers: estate.servers,
    versions: estate.versions,
    kubernetes: estate.kubernetes,
    frontend: frontendOptions,
    mesh: estate.mesh,
    cluster: kubernetes,
    tlsCertificate: secrets.tlsCertificate,
    tlsKey: secrets.tlsKey,
  });
  await registered();

  const monitoring = new Monitoring("monitoring", {
    servers: estate.servers,
    switches: estate.switches,
    kubernetes: estate.kubernetes,
    monitoring: estate.monitoring,
    versions: estate.versions,
    site,
    frontend: frontendOptions,
    pools,
    cluster: kubernetes,
    alertmanagerCredentials: secrets.alertmanagerCredentials,
  });
  await registered();

  return {
    schemaVersion: SCHEMA_VERSION,
    site: { stack: estate.stack, domain: site.domain },
    nodes: servers.map((n) => n.output),
    switches: switches.map((s) => s.output),
    fabric: fabric.output,
    frontend: frontend.output,
    ceph: ceph.output,
    kubernetes: kubernetes.output,
    mesh: mesh.output,
    monitoring: monitoring.output,
    grafanaAdminPassword: monitoring.grafanaAdminPassword,
    kubeconfig: kubernetes.kubeconfig,
  };
}
