/**
 * ServiceMesh under Pulumi's mocks: its children and their parent, base -> istiod ->
 * gateway through dependsOn after the cluster is ready, the cluster's one Provider on
 * every Kubernetes resource and Release, the chart version pinned, the certificate only
 * as a secret, every values file and object tagged, sidecar injection on exactly the
 * application namespaces, and the `mesh` stack output by the contract.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { CephCluster } from "../../components/ceph";
import { KubernetesCluster } from "../../components/kubernetes";
import { ServiceMesh } from "../../components/mesh";
import { MeshOutput } from "../../components/mesh/output";
import { clearArtifactTags, taggedArtifacts } from "../../components/shared/artifacts";
import type { Estate } from "../../config/model";
import { inputAt, installMocks, type RecordedResource, type Recorder, sanitize, settle } from "../../tools/harness";
import { estateOf } from "../helpers/config";
import { hardwareNodes } from "../helpers/nodes";

const CERT = "CERTMARK-----";
const KEY = "KEYMARK-----";

async function build(estate: Estate): Promise<{ rec: Recorder; mesh: ServiceMesh }> {
  clearArtifactTags();
  const rec = installMocks(estate.stack, { values: {}, secretKeys: [] }, true);
  const nodes = hardwareNodes(estate);
  const ceph = new CephCluster("ceph", { ...estate, nodes });
  const cluster = new KubernetesCluster("kubernetes", { ...estate, nodes, ceph });
  const mesh = new ServiceMesh("mesh", {
    ...estate,
    cluster,
    tlsCertificate: pulumi.secret(CERT),
    tlsKey: pulumi.secret(KEY),
  });
  await settle();
  return { rec, mesh };
}

describe("ServiceMesh (mocks)", () => {
  let rec: Recorder;
  let mesh: ServiceMesh;
  let estate: Estate;
  const named = (n: string): RecordedResource => {
    const r = rec.resources.find((x) => x.name === n);
    assert.ok(r, `${n} is registered`);
    return r;
  };
  const dependsOn = (a: string, b: string): boolean => named(a).dependencies.includes(named(b).urn);

  before(async () => {
    const prod = estateOf("prod");
    // One mirror, to see its VirtualService.
    estate = {
      ...prod,
      mesh: { ...prod.mesh, mirrors: [{ namespace: "apps", service: "shop", mirrorTo: "shop-next", percent: 5 }] },
    };
    ({ rec, mesh } = await build(estate));
  });

  it("registers its children by role, parented to the component", () => {
    const component = named("mesh");
    assert.equal(component.type, "estate:mesh:ServiceMesh");
    const children = rec.resources.filter((r) => r.parent === component.urn).map((r) => `${r.name} ${r.type}`);
    assert.deepEqual(children.sort(), [
      "mesh-base kubernetes:helm.sh/v3:Release",
      "mesh-destination-rule kubernetes:networking.istio.io/v1:DestinationRule",
      "mesh-gateway kubernetes:helm.sh/v3:Release",
      "mesh-gateway-policy kubernetes:networking.k8s.io/v1:NetworkPolicy",
      "mesh-gateway-tls kubernetes:core/v1:Secret",
      "mesh-ingress-gateway kubernetes:networking.istio.io/v1:Gateway",
      "mesh-istiod kubernetes:helm.sh/v3:Release",
      "mesh-mirror-apps-shop kubernetes:networking.istio.io/v1:VirtualService",
      "mesh-ns-istio-ingress kubernetes:core/v1:Namespace",
      "mesh-ns-istio-system kubernetes:core/v1:Namespace",
      "mesh-peer-authentication kubernetes:security.istio.io/v1:PeerAuthentication",
      "mesh-telemetry kubernetes:telemetry.istio.io/v1:Telemetry",
    ]);
  });

  it("installs base -> istiod -> gateway in that order, pinned, after the cluster is ready", () => {
    assert.ok(dependsOn("mesh-base", "mesh-ns-istio-system"));
    assert.ok(dependsOn("mesh-istiod", "mesh-base"));
    assert.ok(dependsOn("mesh-gateway", "mesh-istiod"));
    assert.ok(!dependsOn("mesh-base", "mesh-istiod") && !dependsOn("mesh-istiod", "mesh-gateway"));
    assert.ok(dependsOn("mesh-gateway", "mesh-gateway-tls"), "the certificate is there when the gateway starts");
    assert.ok(dependsOn("mesh-gateway", "mesh-gateway-policy"));
    // The namespaces carry the cluster's readiness: after every node's roll and Ready check.
    const before = (n: string): Set<string> => {
      const seen = new Set<string>();
      const walk = (urn: string) => {
        for (const d of rec.byUrn(urn)?.dependencies ?? [])
          if (!seen.has(d)) {
            seen.add(d);
            walk(d);
          }
      };
      walk(named(n).urn);
      return new Set([...seen].map((u) => rec.byUrn(u)?.name ?? u));
    };
    for (const ns of ["mesh-ns-istio-system", "mesh-ns-istio-ingress"]) {
      const after = before(ns);
      for (const h of ["ctl-1", "ctl-2", "ctl-3", "wrk-1", "wrk-2", "wrk-3"])
        assert.ok(after.has(`kubernetes-${h}-roll`), `${ns} after ${h}'s roll`);
      for (const h of ["wrk-1", "wrk-2", "wrk-3"]) assert.ok(after.has(`kubernetes-${h}-ready`), `${ns} after ${h}`);
    }
    for (const [n, chart, release, ns] of [
      ["mesh-base", "base", "istio-base", "istio-system"],
      ["mesh-istiod", "istiod", "istiod", "istio-system"],
      ["mesh-gateway", "gateway", "istio-ingressgateway", "istio-ingress"],
    ]) {
      const i = named(n).rawInputs;
      assert.deepEqual([i.chart, i.name, i.namespace, i.version], [chart, release, ns, "1.30.3"]);
      assert.deepEqual(i.repositoryOpts, { repo: "https://istio-release.storage.googleapis.com/charts" });
    }
    for (const n of ["mesh-peer-authentication", "mesh-destination-rule", "mesh-telemetry"])
      assert.ok(dependsOn(n, "mesh-istiod"), `${n} after istiod (CRDs and validation)`);
    assert.ok(dependsOn("mesh-ingress-gateway", "mesh-gateway"));
    assert.ok(dependsOn("mesh-mirror-apps-shop", "kubernetes-ns-apps"), "in the application namespace, once it exists");
  });

  it("uses the cluster's one Provider, explicitly, for every Kubernetes resource and Release", () => {
    const provider = named("kubernetes-provider");
    const mine = rec.resources.filter((r) => r.urn.includes("estate:mesh:ServiceMesh$") && r.custom);
    assert.equal(mine.length, 12);
    for (const r of mine) assert.ok(r.provider.startsWith(`${provider.urn}::`), `${r.name} uses ${r.provider}`);
  });

  it("sets the NodePorts and istiod replicas from the model", () => {
    const gw = inputAt(named("mesh-gateway").rawInputs, "values.service.ports").value as { nodePort?: number }[];
    assert.deepEqual(
      gw.map((p) => p.nodePort),
      [undefined, estate.kubernetes.ingressNodePorts.http, estate.kubernetes.ingressNodePorts.https],
    );
    assert.equal(inputAt(named("mesh-istiod").rawInputs, "values.replicaCount").value, 2);
  });

  it("labels exactly the application namespaces for sidecar injection, never a system one", () => {
    const namespaces = rec.resources.filter((r) => r.type === "kubernetes:core/v1:Namespace");
    const labelled = namespaces
      .filter(
        (r) =>
          (inputAt(r.rawInputs, "metadata.labels").value as Record<string, string> | undefined)?.["istio-injection"] ===
          "enabled",
      )
      .map((r) => inputAt(r.rawInputs, "metadata.name").value);
    assert.deepEqual(labelled, [...estate.kubernetes.applicationNamespaces]);
    const all = namespaces.map((r) => inputAt(r.rawInputs, "metadata.name").value).sort();
    assert.deepEqual(all, ["apps", "ceph-csi-rbd", "istio-ingress", "istio-system"]);
  });

  it("keeps the gateway's certificate and key secret, out of every artifact", () => {
    const tls = named("mesh-gateway-tls").rawInputs;
    assert.equal(inputAt(tls, "stringData").secret, true);
    assert.equal(inputAt(tls, "type").value, "kubernetes.io/tls");
    for (const r of rec.resources) {
      if (r.name === "mesh-gateway-tls") continue;
      const text = JSON.stringify(sanitize(r.rawInputs));
      assert.ok(!text.includes(CERT) && !text.includes(KEY), `${r.name} holds the certificate or key`);
    }
    const artifact = taggedArtifacts().find((t) => t.tag.file === "mesh/objects/istio-ingress-ingress-tls.yaml");
    assert.ok(artifact);
    assert.equal(JSON.stringify(sanitize(tls)).includes(KEY), false);
  });

  it("tags every release's values and every object as artifacts", () => {
    const files = taggedArtifacts()
      .map((t) => `${t.tag.kind} ${t.tag.format} ${t.tag.file}`)
      .filter((f) => f.includes(" mesh/"))
      .sort();
    assert.deepEqual(files, [
      "helm-values yaml mesh/releases/istio-base.values.yaml",
      "helm-values yaml mesh/releases/istio-ingressgateway.values.yaml",
      "helm-values yaml mesh/releases/istiod.values.yaml",
      "k8s-object yaml mesh/objects/apps-virtualservice-shop-mirror.yaml",
      "k8s-object yaml mesh/objects/istio-ingress-gateway-ingress.yaml",
      "k8s-object yaml mesh/objects/istio-ingress-ingress-from-balancers.yaml",
      "k8s-object yaml mesh/objects/istio-ingress-ingress-tls.yaml",
      "k8s-object yaml mesh/objects/istio-system-destinationrule-default.yaml",
      "k8s-object yaml mesh/objects/istio-system-peerauthentication-default.yaml",
      "k8s-object yaml mesh/objects/istio-system-telemetry-mesh-default.yaml",
      "k8s-object yaml mesh/objects/namespace-istio-ingress.yaml",
      "k8s-object yaml mesh/objects/namespace-istio-system.yaml",
    ]);
  });

  it("publishes the mesh stack output by the contract", () => {
    const out = MeshOutput.parse(mesh.output);
    assert.deepEqual(out, {
      version: "1.30.3",
      gateway: {
        address: estate.frontend.vip,
        ports: { https: 443, http: 80 },
        nodePorts: { https: 30443, http: 30080 },
        service: "istio-ingressgateway",
      },
      namespaces: { istiod: "istio-system", gateway: "istio-ingress", injected: ["apps"] },
    });
  });
});
