/** The stack output `kubernetes`: its definition and its type. The kubeconfig is never part of it. */
import { z } from "zod";
import { Ipv4, Name } from "../shared/output";

export const KubernetesOutput = z
  .strictObject({
    apiEndpoint: z
      .strictObject({
        name: z.string().min(1).describe("the endpoint's DNS name (in the API server's certificate)"),
        address: Ipv4.describe("the endpoint's address: the front tier's VIP"),
        port: z.int().min(1).max(65535),
        url: z.string().regex(/^https:\/\/[0-9.]+:\d+$/),
      })
      .describe("the highly available API endpoint ops scripts and the Provider use"),
    servers: z.array(Name).min(1).describe("the K3s servers (control plane and embedded etcd), the first one first"),
    agents: z.array(Name).describe("the K3s agents"),
    storageClasses: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          pool: z.string().min(1).describe("the Ceph RBD pool behind it"),
          default: z.boolean(),
        }),
      )
      .describe("the StorageClasses (Ceph RBD through ceph-csi); exactly one is the default"),
  })
  .meta({
    description:
      "The Kubernetes cluster (K3s): API endpoint, nodes and storage classes; the kubeconfig is secret, elsewhere.",
  });
export type KubernetesOutput = z.infer<typeof KubernetesOutput>;
