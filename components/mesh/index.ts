/**
 * `estate:mesh:ServiceMesh`: Istio from istio.values.yaml (base, istiod, the ingress
 * gateway as Helm Releases pinned to `versions.istio`), and the mesh's policy as objects.
 *
 * Children:
 *   `<name>-ns-istio-system`, `<name>-ns-istio-ingress`  the mesh's namespaces (no injection),
 *                         created once the cluster is ready
 *   `<name>-base` -> `<name>-istiod` -> `<name>-gateway`  the Releases, in that order
 *   `<name>-peer-authentication`   mTLS STRICT mesh-wide
 *   `<name>-destination-rule`      the mesh-wide traffic policy (`*.local`)
 *   `<name>-telemetry`             metrics and access logs mesh-wide
 *   `<name>-gateway-tls`           the gateway's certificate (kubernetes.io/tls, secret)
 *   `<name>-ingress-gateway`       the Gateway (443 TLS SIMPLE, 80)
 *   `<name>-gateway-policy`        the gateway admits HTTP(S) from the balancers only
 *   `<name>-mirror-<ns>-<service>` a VirtualService per mirrored service
 *
 * Every Kubernetes resource and Release takes the cluster's Provider explicitly.
 */
import * as fs from "fs";
import * as path from "path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { KubernetesCluster } from "../kubernetes";
import { tagArtifact } from "../shared/artifacts";
import { meshInputFor, type MeshModel } from "./input";
import type { MeshOutput } from "./output";
import {
  destinationRuleDefaultObject,
  gatewayObject,
  gatewayPolicyObject,
  gatewaySecretObject,
  GATEWAY_TLS_SECRET,
  ISTIO_REPO,
  type IstioValuesFile,
  MESH_NAMESPACES,
  meshNamespaceObject,
  meshValues,
  mirrorObject,
  parseIstioValues,
  peerAuthenticationObject,
  RELEASES,
  type ReleaseKey,
  telemetryObject,
} from "./values";

/** istio.values.yaml at the top of the repository. */
export const ISTIO_VALUES_FILE = path.resolve(__dirname, "..", "..", "istio.values.yaml");

export interface ServiceMeshArgs extends MeshModel {
  /** The cluster: its Provider, when it is ready, and its application namespaces. */
  readonly cluster: Pick<KubernetesCluster, "provider" | "ready" | "namespaces">;
  /** The certificate chain and key the gateway serves on 443 (the estate's secrets). */
  readonly tlsCertificate: pulumi.Input<string>;
  readonly tlsKey: pulumi.Input<string>;
  /** The charts' values. @default istio.values.yaml at the top of the repository */
  readonly values?: IstioValuesFile;
}

export class ServiceMesh extends pulumi.ComponentResource {
  /** The stack output `mesh`. */
  public readonly output: MeshOutput;
  /** The gateway Release: done when the mesh accepts traffic. */
  public readonly gateway: k8s.helm.v3.Release;

  constructor(name: string, args: ServiceMeshArgs, opts?: pulumi.ComponentResourceOptions) {
    super("estate:mesh:ServiceMesh", name, {}, opts);
    const input = meshInputFor(args);
    const file = args.values ?? parseIstioValues(fs.readFileSync(ISTIO_VALUES_FILE, "utf8"));
    const values = meshValues(file, input);
    const provider = args.cluster.provider;
    const k8sOpts = (dependsOn: pulumi.Input<pulumi.Resource>[] = []): pulumi.CustomResourceOptions => ({
      parent: this,
      provider,
      dependsOn,
    });
    const tagObject = (res: pulumi.Resource, target: string, f: string) =>
      tagArtifact(res, { kind: "k8s-object", target, property: ".", file: `mesh/objects/${f}.yaml`, format: "yaml" });
    const object = <T>(obj: Record<string, unknown>) => obj as unknown as T;

    // The namespaces carry the cluster's readiness (an annotation from `ready`), so every
    // Release and object of the mesh waits for the roll to finish.
    const namespace = (ns: string) => {
      const o = meshNamespaceObject(ns) as { metadata: Record<string, unknown> };
      const r = new k8s.core.v1.Namespace(
        `${name}-ns-${ns}`,
        { ...o, metadata: { ...o.metadata, annotations: { "estate.io/cluster": args.cluster.ready } } },
        k8sOpts(),
      );
      tagObject(r, ns, `namespace-${ns}`);
      return r;
    };
    const systemNs = namespace(MESH_NAMESPACES.istiod);
    const gatewayNs = namespace(MESH_NAMESPACES.gateway);

    const release = (key: ReleaseKey, after: pulumi.Resource[]) => {
      const r = RELEASES[key];
      const res = new k8s.helm.v3.Release(
        `${name}-${key}`,
        {
          name: r.release,
          chart: r.chart,
          version: input.version,
          repositoryOpts: { repo: ISTIO_REPO },
          namespace: r.namespace,
          createNamespace: false,
          values: values[key],
          timeout: 900,
        },
        k8sOpts(after),
      );
      tagArtifact(res, {
        kind: "helm-values",
        target: r.release,
        property: "values",
        file: `mesh/releases/${r.release}.values.yaml`,
        format: "yaml",
      });
      return res;
    };
    const base = release("base", [systemNs]);
    const istiod = release("istiod", [base]);

    // The certificate first, so the gateway's TLS server has it when it starts.
    const tls = new k8s.core.v1.Secret(
      `${name}-gateway-tls`,
      object<k8s.core.v1.SecretArgs>(
        gatewaySecretObject(pulumi.secret(args.tlsCertificate), pulumi.secret(args.tlsKey)),
      ),
      { ...k8sOpts([gatewayNs]), additionalSecretOutputs: ["data", "stringData"] },
    );
    tagObject(tls, MESH_NAMESPACES.gateway, `${MESH_NAMESPACES.gateway}-${GATEWAY_TLS_SECRET}`);
    const policy = new k8s.networking.v1.NetworkPolicy(
      `${name}-gateway-policy`,
      object<k8s.networking.v1.NetworkPolicyArgs>(gatewayPolicyObject(input.balancerLoopbacks)),
      k8sOpts([gatewayNs]),
    );
    tagObject(policy, MESH_NAMESPACES.gateway, `${MESH_NAMESPACES.gateway}-ingress-from-balancers`);
    this.gateway = release("gateway", [istiod, gatewayNs, tls, policy]);

    // Istio's objects after istiod: their CRDs come with base, their validation with istiod.
    const custom = (suffix: string, obj: Record<string, unknown>, after: pulumi.Resource[]) => {
      const meta = obj.metadata as { name: string; namespace: string };
      const r = new k8s.apiextensions.CustomResource(
        `${name}-${suffix}`,
        obj as unknown as k8s.apiextensions.CustomResourceArgs,
        k8sOpts(after),
      );
      tagObject(r, meta.namespace, `${meta.namespace}-${String(obj.kind).toLowerCase()}-${meta.name}`);
      return r;
    };
    custom("peer-authentication", peerAuthenticationObject(), [istiod]);
    custom("destination-rule", destinationRuleDefaultObject(), [istiod]);
    custom("telemetry", telemetryObject(), [istiod]);
    custom("ingress-gateway", gatewayObject(), [this.gateway]);
    for (const m of input.mirrors) {
      const ns = args.cluster.namespaces[m.namespace];
      custom(`mirror-${m.namespace}-${m.service}`, mirrorObject(m), [istiod, ...(ns ? [ns] : [])]);
    }

    this.output = {
      version: input.version,
      gateway: {
        address: input.address,
        ports: { ...input.ports },
        nodePorts: { ...input.nodePorts },
        service: RELEASES.gateway.release,
      },
      namespaces: {
        istiod: MESH_NAMESPACES.istiod,
        gateway: MESH_NAMESPACES.gateway,
        injected: [...input.injectedNamespaces],
      },
    };
    this.registerOutputs({ output: this.output });
  }
}
