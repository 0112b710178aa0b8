/** The stack output `mesh`: its definition and its type. */
import { z } from "zod";
import { Ipv4, Port } from "../shared/output";

const NodePort = z.int().min(30000).max(32767);
const Namespace = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/);

export const MeshOutput = z
  .strictObject({
    version: z
      .string()
      .regex(/^\d+\.\d+\.\d+$/)
      .describe("the Istio chart version (base, istiod, gateway)"),
    gateway: z
      .strictObject({
        address: Ipv4.describe("where clients reach the mesh: the front tier's VIP"),
        ports: z
          .strictObject({ https: Port, http: Port })
          .describe("the ports clients use on the address (the front tier's)"),
        nodePorts: z
          .strictObject({ https: NodePort, http: NodePort })
          .describe("the gateway Service's NodePorts on every Kubernetes node (Nginx forwards to http)"),
        service: z.string().min(1).describe("the gateway Service's name, in namespaces.gateway"),
      })
      .describe("the ingress gateway"),
    namespaces: z.strictObject({
      istiod: Namespace.describe("the root namespace: istiod and the mesh-wide policy"),
      gateway: Namespace.describe("the ingress gateway's namespace"),
      injected: z.array(Namespace).describe("the namespaces whose pods get sidecars"),
    }),
  })
  .meta({ description: "The Istio service mesh: version, ingress gateway address and ports, namespaces." });
export type MeshOutput = z.infer<typeof MeshOutput>;
