/**
 * The mesh in the offline plans of dev and prod: every Release and object with its
 * artifact, the gateway's HTTP NodePort the same number as the port every balancer's
 * planned nginx.conf forwards to, the gateway policy admitting exactly the balancers'
 * loopbacks, sidecar injection only on application namespaces, and the certificate never
 * in an artifact.
 */
import { strict as assert } from "assert";
import * as yaml from "js-yaml";
import { estateOf } from "../helpers/config";
import { planStack } from "../helpers/plan";

const MESH_ARTIFACTS = [
  "mesh/objects/istio-ingress-gateway-ingress.yaml",
  "mesh/objects/istio-ingress-ingress-from-balancers.yaml",
  "mesh/objects/istio-ingress-ingress-tls.yaml",
  "mesh/objects/istio-system-destinationrule-default.yaml",
  "mesh/objects/istio-system-peerauthentication-default.yaml",
  "mesh/objects/istio-system-telemetry-mesh-default.yaml",
  "mesh/objects/namespace-istio-ingress.yaml",
  "mesh/objects/namespace-istio-system.yaml",
  "mesh/releases/istio-base.values.yaml",
  "mesh/releases/istio-ingressgateway.values.yaml",
  "mesh/releases/istiod.values.yaml",
];

describe("the mesh in the plans", function () {
  this.timeout(180000);

  for (const stack of ["dev", "prod"] as const)
    describe(stack, () => {
      const plan = () => planStack(stack);
      const estate = estateOf(stack);

      it("holds every mesh Release and object, each with its artifact", () => {
        const mesh = plan()
          .index.map((e) => e.path)
          .filter((p) => p.startsWith("mesh/"))
          .sort();
        assert.deepEqual(mesh, MESH_ARTIFACTS);
        const types = plan()
          .resources.filter((r) => r.urn.includes("estate:mesh:ServiceMesh$"))
          .map((r) => r.type);
        assert.equal(types.filter((t) => t === "kubernetes:helm.sh/v3:Release").length, 3);
      });

      it("forwards Nginx on every balancer to the gateway's HTTP NodePort", () => {
        const values = yaml.load(plan().artifact("mesh/releases/istio-ingressgateway.values.yaml")) as {
          service: { ports: { name: string; nodePort?: number }[] };
        };
        const http = values.service.ports.find((p) => p.name === "http2")!.nodePort;
        assert.equal(http, estate.kubernetes.ingressNodePorts.http);
        const confs = plan()
          .index.filter((e) => e.kind === "nginx" && e.path.endsWith("/nginx.conf"))
          .map((e) => plan().artifact(e.path));
        assert.ok(confs.length >= 2, "every balancer has an nginx.conf");
        for (const conf of confs) {
          const block = /upstream istio_ingress \{([^}]*)\}/.exec(conf)?.[1] ?? "";
          const ports = [...block.matchAll(/server [0-9.]+:(\d+)/g)].map((m) => Number(m[1]));
          assert.ok(ports.length > 0, "the upstream lists the Kubernetes nodes");
          assert.deepEqual([...new Set(ports)], [http]);
        }
      });

      it("admits the gateway's HTTP(S) from exactly the balancers' loopbacks", () => {
        const policy = yaml.load(plan().artifact("mesh/objects/istio-ingress-ingress-from-balancers.yaml")) as {
          spec: { ingress: { from: { ipBlock?: { cidr: string } }[] }[] };
        };
        const lbs = estate.servers.filter((s) => s.roles.includes("lb")).map((s) => `${s.loopback}/32`);
        assert.deepEqual(policy.spec.ingress[0].from.map((f) => f.ipBlock?.cidr).sort(), lbs.sort());
      });

      it("labels only the application namespaces for sidecar injection", () => {
        const labelled = plan()
          .resources.filter((r) => r.type === "kubernetes:core/v1:Namespace")
          .filter((r) => JSON.stringify(r.inputs).includes('"istio-injection":"enabled"'))
          .map((r) => (r.inputs.metadata as { name: string }).name);
        assert.deepEqual(labelled, [...estate.kubernetes.applicationNamespaces]);
      });

      it("writes the gateway's certificate and key as [secret] only", () => {
        const tls = plan().artifact("mesh/objects/istio-ingress-ingress-tls.yaml");
        assert.match(tls, /stringData: '\[secret\]'/);
        assert.doesNotMatch(tls, /BEGIN/);
        assert.equal(plan().index.find((e) => e.path.endsWith("ingress-tls.yaml"))?.secret, true);
      });
    });
});
