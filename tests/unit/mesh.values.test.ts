/**
 * The mesh's chart values and objects against the pinned Istio 1.30.3 charts and CRDs:
 * every values key exists in the chart's defaults (istio's defaults live under
 * `_internal_defaults_do_not_set`), `meshConfig` keys are MeshConfig/ProxyConfig fields
 * of istio/api 1.30.3, the gateway values pass the chart's values.schema.json, every
 * custom resource validates against its CRD with unknown fields rejected; a misspelt key
 * or field fails each check. And the overlay: replicas, the budget and the NodePorts
 * (the same number the front tier's Nginx forwards to).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import { frontTierInputFor } from "../../components/frontend/input";
import { namespaceObject } from "../../components/kubernetes/values";
import { ISTIO_VALUES_FILE } from "../../components/mesh";
import { meshInputFor } from "../../components/mesh/input";
import {
  destinationRuleDefaultObject,
  gatewayObject,
  gatewayPolicyObject,
  meshNamespaceObject,
  meshValues,
  mirrorObject,
  parseIstioValues,
  peerAuthenticationObject,
  telemetryObject,
  type Values,
} from "../../components/mesh/values";
import { estateOf } from "../helpers/config";
import {
  compileSchema,
  crdValidator,
  loadAllRef,
  loadRef,
  type Schema,
  unknownKeys,
  type Validator,
} from "../helpers/reference";

const ISTIO = "istio/1.30.3";
const file = parseIstioValues(fs.readFileSync(ISTIO_VALUES_FILE, "utf8"));
const input = { istiodReplicas: 2, istiodMaxReplicas: 5, nodePorts: { http: 30080, https: 30443 } };

/**
 * A chart's defaults as Helm sees them: Istio's charts keep them under
 * `_internal_defaults_do_not_set` (a Helm workaround), merged with the top level.
 */
function istioDefaults(chart: "base" | "istiod" | "gateway"): Values {
  const d = loadRef(`${ISTIO}/${chart}.values.yaml`) as Values;
  const { _internal_defaults_do_not_set: internal, ...top } = d;
  return { ...(internal as Values), ...top };
}

interface MeshFacts {
  messages: Record<string, Record<string, string>>;
  enums: Record<string, string[]>;
}

/**
 * Keys of `meshConfig` that are not fields of istio/api's MeshConfig (descending into
 * message fields: ProxyConfig, OutboundTrafficPolicy), and enum values not in their enum.
 */
function meshConfigProblems(value: unknown, facts: MeshFacts, message = "MeshConfig", at = "meshConfig"): string[] {
  if (!value || typeof value !== "object" || Array.isArray(value)) return [];
  // A type name resolves like protobuf: nested in the message, then its parents, then top level.
  const resolve = (type: string): { kind: "message" | "enum"; name: string } | undefined => {
    const scopes = message.split(".");
    for (let i = scopes.length; i >= 0; i--) {
      const name = [...scopes.slice(0, i), type].join(".");
      if (facts.messages[name]) return { kind: "message", name };
      if (facts.enums[name]) return { kind: "enum", name };
    }
    return undefined;
  };
  const out: string[] = [];
  for (const [k, v] of Object.entries(value as Values)) {
    const type = facts.messages[message]?.[k];
    if (type === undefined) {
      out.push(`${at}.${k}`);
      continue;
    }
    const t = resolve(type);
    if (t?.kind === "message") out.push(...meshConfigProblems(v, facts, t.name, `${at}.${k}`));
    if (t?.kind === "enum" && !facts.enums[t.name].includes(String(v))) out.push(`${at}.${k}=${String(v)}`);
  }
  return out;
}

describe("mesh chart values (istio.values.yaml with the overlay)", () => {
  const values = meshValues(file, input);
  const facts = loadRef(`${ISTIO}/meshconfig-fields.json`) as MeshFacts;

  it("sets only keys the pinned charts' defaults have (meshConfig: istio/api's MeshConfig)", () => {
    assert.deepEqual(unknownKeys(values.base, istioDefaults("base")), []);
    assert.deepEqual(unknownKeys(values.istiod, istioDefaults("istiod"), ["meshConfig"]), []);
    assert.deepEqual(unknownKeys(values.gateway, istioDefaults("gateway")), []);
    assert.deepEqual(meshConfigProblems(values.istiod.meshConfig, facts), []);
    assert.ok(Object.keys(values.istiod.meshConfig as Values).length >= 5, "meshConfig is checked, not empty");
  });

  it("fails on a misspelt key in each chart and in meshConfig", () => {
    const istiod = values.istiod as { global: Values; meshConfig: Values };
    assert.deepEqual(unknownKeys({ ...values.base, globl: {} }, istioDefaults("base")), ["globl"]);
    assert.deepEqual(
      unknownKeys({ ...istiod, global: { ...istiod.global, proxy: { resource: {} } } }, istioDefaults("istiod"), [
        "meshConfig",
      ]),
      ["global.proxy.resource"],
    );
    assert.deepEqual(unknownKeys({ ...values.gateway, autoscale: {} }, istioDefaults("gateway")), ["autoscale"]);
    const mc = istiod.meshConfig;
    assert.deepEqual(meshConfigProblems({ ...mc, accessLogEncodings: "JSON" }, facts), [
      "meshConfig.accessLogEncodings",
    ]);
    assert.deepEqual(meshConfigProblems({ ...mc, defaultConfig: { holdApplicationUntilProxyStart: true } }, facts), [
      "meshConfig.defaultConfig.holdApplicationUntilProxyStart",
    ]);
    assert.deepEqual(meshConfigProblems({ ...mc, defaultConfig: { gatewayTopology: { numTrustedProxy: 1 } } }, facts), [
      "meshConfig.defaultConfig.gatewayTopology.numTrustedProxy",
    ]);
    assert.deepEqual(meshConfigProblems({ ...mc, outboundTrafficPolicy: { mode: "REGISTRY" } }, facts), [
      "meshConfig.outboundTrafficPolicy.mode=REGISTRY",
    ]);
  });

  it("passes the gateway chart's values.schema.json, and fails it with a misspelt key", () => {
    const schema = loadRef(`${ISTIO}/gateway.values.schema.json`) as Schema;
    // The chart's own schema as Helm applies it (it already rejects unknown top-level keys).
    const validate = compileSchema(schema, false);
    assert.deepEqual(validate(values.gateway), []);
    assert.match(validate({ ...values.gateway, kinds: "DaemonSet" }).join("\n"), /additionalProperty":"kinds"/);
    assert.match(validate({ ...values.gateway, kind: "Daemonset" }).join("\n"), /\/kind must be equal to one/);
  });

  it("holds the design's settings: HA istiod, sidecar resources, logs, merge, hold, outbound policy", () => {
    const istiod = values.istiod as {
      replicaCount: number;
      autoscaleEnabled: boolean;
      autoscaleMin: number;
      autoscaleMax: number;
      pdb: Values;
      global: { defaultPodDisruptionBudget: { enabled: boolean }; proxy: { resources: Values } };
      meshConfig: Values;
    };
    assert.equal(istiod.replicaCount, 2);
    assert.deepEqual([istiod.autoscaleEnabled, istiod.autoscaleMin, istiod.autoscaleMax], [true, 2, 5]);
    assert.equal(istiod.global.defaultPodDisruptionBudget.enabled, true);
    assert.deepEqual(istiod.pdb, { minAvailable: 1 });
    assert.deepEqual(istiod.global.proxy.resources, {
      requests: { cpu: "500m", memory: "256Mi" },
      limits: { cpu: "2000m", memory: "1024Mi" },
    });
    assert.deepEqual(istiod.meshConfig, {
      accessLogFile: "/dev/stdout",
      accessLogEncoding: "JSON",
      enablePrometheusMerge: true,
      defaultConfig: { holdApplicationUntilProxyStarts: true, gatewayTopology: { numTrustedProxies: 1 } },
      outboundTrafficPolicy: { mode: "REGISTRY_ONLY" },
    });
  });

  it("overlays the stack's replicas: one istiod has no budget (it would block every drain)", () => {
    const one = meshValues(file, { ...input, istiodReplicas: 1, istiodMaxReplicas: 3 }).istiod as Values & {
      global: { defaultPodDisruptionBudget: { enabled: boolean } };
    };
    assert.deepEqual([one.replicaCount, one.autoscaleMin, one.autoscaleMax], [1, 1, 3]);
    assert.equal(one.global.defaultPodDisruptionBudget.enabled, false);
    // The file itself is untouched by the overlay.
    assert.equal((file.istiod as Values).replicaCount, 2);
  });

  it("runs the gateway on every node, source preserved, NodePorts from the model", () => {
    const gw = values.gateway as {
      kind: string;
      service: { type: string; externalTrafficPolicy: string; ports: Values[] };
    };
    assert.equal(gw.kind, "DaemonSet");
    assert.equal(gw.service.type, "NodePort");
    assert.equal(gw.service.externalTrafficPolicy, "Local");
    assert.deepEqual(
      gw.service.ports.map((p) => `${String(p.name)} ${String(p.targetPort)} ${String(p.nodePort ?? "-")}`),
      ["status-port 15021 -", "http2 80 30080", "https 443 30443"],
    );
  });

  for (const stack of ["dev", "prod"] as const)
    it(`${stack}: the gateway's HTTP NodePort is the port the front tier's Nginx forwards to`, () => {
      const estate = estateOf(stack);
      const gw = meshValues(file, meshInputFor(estate)).gateway as { service: { ports: Values[] } };
      const http = gw.service.ports.find((p) => p.name === "http2")!;
      assert.equal(http.nodePort, frontTierInputFor(estate).upstreamPort);
      assert.equal(http.nodePort, estate.kubernetes.ingressNodePorts.http);
      // And when the model's value changes, both follow.
      const moved = {
        ...estate,
        kubernetes: { ...estate.kubernetes, ingressNodePorts: { http: 31080, https: 31443 } },
      };
      const gw2 = meshValues(file, meshInputFor(moved)).gateway as { service: { ports: Values[] } };
      assert.equal(gw2.service.ports.find((p) => p.name === "http2")!.nodePort, 31080);
      assert.equal(frontTierInputFor(moved).upstreamPort, 31080);
    });

  it("labels an application namespace for injection only when asked; the mesh's own never", () => {
    const labels = (o: Values) => (o.metadata as { labels: Record<string, string> }).labels;
    assert.deepEqual(labels(namespaceObject("apps", { sidecarInjection: true })), {
      "estate.io/tier": "application",
      "istio-injection": "enabled",
    });
    assert.deepEqual(labels(namespaceObject("apps", { sidecarInjection: false })), { "estate.io/tier": "application" });
    for (const ns of ["istio-system", "istio-ingress"])
      assert.equal(labels(meshNamespaceObject(ns))["istio-injection"], undefined);
  });

  it("rejects a values file without a section, or with an unknown one", () => {
    assert.throws(() => parseIstioValues("base: {}\nistiod: {}\n"), /section gateway is missing/);
    assert.throws(() => parseIstioValues("base: {}\nistiod: {}\ngateway: {}\ngatway: {}\n"), /unknown section gatway/);
  });
});

describe("mesh objects against the Istio 1.30.3 CRDs (unknown fields rejected)", () => {
  let validate: Validator;
  before(() => {
    validate = crdValidator(loadAllRef(`${ISTIO}/crds.yaml`));
  });
  const objects: Record<string, Values> = {
    PeerAuthentication: peerAuthenticationObject(),
    DestinationRule: destinationRuleDefaultObject(),
    Telemetry: telemetryObject(),
    Gateway: gatewayObject(),
    VirtualService: mirrorObject({ namespace: "apps", service: "shop", mirrorTo: "shop-next", percent: 12.5 }),
  };

  for (const [kind, obj] of Object.entries(objects))
    it(`${kind} validates`, () => {
      assert.equal(obj.kind, kind);
      assert.deepEqual(validate(obj), []);
    });

  it("fails on a misspelt field or a wrong enum value in each", () => {
    const spec = (o: Values) => o.spec as Values;
    const cases: [Values, RegExp][] = [
      [{ ...objects.PeerAuthentication, spec: { mtls: { mode: "STRICTLY" } } }, /mtls\/mode must be equal to one/],
      [{ ...objects.PeerAuthentication, spec: { mTLS: { mode: "STRICT" } } }, /additionalProperty":"mTLS"/],
      [
        {
          ...objects.DestinationRule,
          spec: {
            ...spec(objects.DestinationRule),
            trafficPolicy: { outlierDetection: { consecutive5xxError: 5 } },
          },
        },
        /additionalProperty":"consecutive5xxError"/,
      ],
      [
        {
          ...objects.DestinationRule,
          spec: {
            ...spec(objects.DestinationRule),
            trafficPolicy: { connectionPool: { tcp: { tcpKeepAlive: { time: "300s" } } } },
          },
        },
        /additionalProperty":"tcpKeepAlive"/,
      ],
      [{ ...objects.Telemetry, spec: { accessLogs: [] } }, /additionalProperty":"accessLogs"/],
      [
        {
          ...objects.Gateway,
          spec: {
            ...spec(objects.Gateway),
            servers: [
              {
                port: { number: 443, name: "https", protocol: "HTTPS" },
                hosts: ["*"],
                tls: { mode: "SIMPLE", credential: "x" },
              },
            ],
          },
        },
        /additionalProperty":"credential"/,
      ],
      [
        {
          ...objects.VirtualService,
          spec: { hosts: ["a"], http: [{ route: [{ destination: { host: "a" } }], mirrorPercentages: { value: 1 } }] },
        },
        /additionalProperty":"mirrorPercentages"/,
      ],
    ];
    for (const [obj, want] of cases) assert.match(validate(obj).join("\n"), want, JSON.stringify(obj));
  });

  it("keeps the design's mesh-wide policy: STRICT, ROUND_ROBIN, keepalive, limits, outlier detection", () => {
    assert.deepEqual(spec(objects.PeerAuthentication), { mtls: { mode: "STRICT" } });
    const dr = spec(objects.DestinationRule) as {
      host: string;
      trafficPolicy: {
        loadBalancer: Values;
        connectionPool: { tcp: Values & { tcpKeepalive: Values }; http: Values };
        outlierDetection: Values;
      };
    };
    assert.equal(dr.host, "*.local");
    assert.equal((objects.DestinationRule.metadata as Values).namespace, "istio-system");
    assert.deepEqual(dr.trafficPolicy.loadBalancer, { simple: "ROUND_ROBIN" });
    assert.deepEqual(Object.keys(dr.trafficPolicy.connectionPool.tcp.tcpKeepalive).sort(), [
      "interval",
      "probes",
      "time",
    ]);
    assert.ok(dr.trafficPolicy.connectionPool.tcp.maxConnections);
    assert.ok(dr.trafficPolicy.connectionPool.http.http1MaxPendingRequests);
    assert.ok(dr.trafficPolicy.outlierDetection.consecutive5xxErrors);
    const gw = spec(objects.Gateway) as { servers: { port: { number: number }; tls?: Values }[] };
    assert.deepEqual(
      gw.servers.map((s) => [s.port.number, s.tls ?? null]),
      [
        [443, { mode: "SIMPLE", credentialName: "ingress-tls" }],
        [80, null],
      ],
    );
    const vs = spec(objects.VirtualService) as { http: Values[] };
    assert.deepEqual(vs.http[0].mirror, { host: "shop-next.apps.svc.cluster.local" });
    assert.deepEqual(vs.http[0].mirrorPercentage, { value: 12.5 });
  });
  const spec = (o: Values) => o.spec as Values;

  it("admits HTTP(S) to the gateway from the balancers' loopbacks only, and the scrape from monitoring", () => {
    const p = gatewayPolicyObject(["10.255.0.2", "10.255.0.1"]) as {
      metadata: Values;
      spec: { podSelector: Values; policyTypes: string[]; ingress: { from: Values[]; ports: Values[] }[] };
    };
    assert.equal(p.metadata.namespace, "istio-ingress");
    assert.deepEqual(p.spec.podSelector, { matchLabels: { istio: "ingressgateway" } });
    assert.deepEqual(p.spec.policyTypes, ["Ingress"]);
    assert.deepEqual(p.spec.ingress[0], {
      from: [{ ipBlock: { cidr: "10.255.0.1/32" } }, { ipBlock: { cidr: "10.255.0.2/32" } }],
      ports: [
        { protocol: "TCP", port: 80 },
        { protocol: "TCP", port: 443 },
      ],
    });
    assert.deepEqual(
      p.spec.ingress[1].ports.map((x) => x.port),
      [15090, 15020],
    );
    const prod = meshInputFor(estateOf("prod"));
    const lbs = estateOf("prod").servers.filter((s) => s.roles.includes("lb"));
    assert.deepEqual(prod.balancerLoopbacks, lbs.map((s) => s.loopback).sort());
    assert.ok(prod.balancerLoopbacks.length >= 2);
  });
});
