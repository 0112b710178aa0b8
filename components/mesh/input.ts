/**
 * From the estate model to the mesh's inputs: the one place that reads the model for the
 * mesh. `values.ts` takes only these inputs.
 */
import type { Estate } from "../../config/model";
import type { MeshValuesInput, MirrorInput } from "./values";

/** The subset of the model the mesh reads. */
export type MeshModel = Pick<Estate, "servers" | "versions" | "kubernetes" | "frontend" | "mesh">;

export interface MeshInput extends MeshValuesInput {
  /** The chart version of base, istiod and gateway. */
  readonly version: string;
  /** The balancers' loopbacks (sorted): the only sources the gateway admits HTTP(S) from. */
  readonly balancerLoopbacks: readonly string[];
  /** Namespaces whose pods get sidecars (labelled by the Kubernetes cluster's namespaceObject). */
  readonly injectedNamespaces: readonly string[];
  readonly mirrors: readonly MirrorInput[];
  /** Where clients reach the gateway: the front tier's VIP and ports. */
  readonly address: string;
  readonly ports: { readonly https: number; readonly http: number };
}

export function meshInputFor(estate: MeshModel): MeshInput {
  return {
    version: estate.versions.istio,
    istiodReplicas: estate.mesh.istiod.replicas,
    istiodMaxReplicas: estate.mesh.istiod.maxReplicas,
    nodePorts: { ...estate.kubernetes.ingressNodePorts },
    balancerLoopbacks: estate.servers
      .filter((s) => s.roles.includes("lb"))
      .map((s) => s.loopback)
      .sort(),
    injectedNamespaces: [...estate.kubernetes.applicationNamespaces],
    mirrors: estate.mesh.mirrors.map((m) => ({ ...m })),
    address: estate.frontend.vip,
    ports: { https: estate.frontend.ports.https, http: estate.frontend.ports.http },
  };
}
