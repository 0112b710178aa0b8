/**
 * What Prometheus scrapes outside the chart: ScrapeConfigs derived from the model (every
 * server and switch for node and FRR, the balancers for Nginx, the manager hosts for Ceph,
 * at each host's loopback and the exporter's port, labelled host/tier/rack), and the
 * mesh's monitors. Every object (and the estate's PrometheusRules) validates against the
 * pinned prometheus-operator CRDs with unknown fields rejected; a misspelled field fails.
 */
import { strict as assert } from "assert";
import { EXPORTERS, SELECTOR_LABEL } from "../../components/monitoring/conventions";
import { scrapeHostsOf, scrapeInputFor } from "../../components/monitoring/input";
import { prometheusRules } from "../../components/monitoring/rules";
import { rulesInputFor } from "../../components/monitoring/rules-input";
import { type K8sObject, meshMonitors, scrapeConfigs } from "../../components/monitoring/scrape";
import type { Estate } from "../../config/model";
import { estateOf } from "../helpers/config";
import { compileSchema, crdSchema, loadAllRef, type Schema, type Validator } from "../helpers/reference";

const CRDS = "kube-prometheus-stack/88.5.3/crds";

/**
 * Strict validation of whole objects against their CRD, compiling only the spec fields the
 * object sets (the full ScrapeConfig schema, with every service discovery, takes ajv
 * seconds); a field the spec does not have is still rejected.
 */
const docs = new Map<string, unknown[]>();
const validators = new Map<string, Validator>();

function crdErrors(o: K8sObject): string[] {
  const file =
    { ScrapeConfig: "scrapeconfigs", PodMonitor: "podmonitors", ServiceMonitor: "servicemonitors" }[o.kind] ??
    "prometheusrules";
  if (!docs.has(file)) docs.set(file, loadAllRef(`${CRDS}/crd-${file}.yaml`));
  const set = Object.keys(o.spec ?? {});
  const key = `${o.apiVersion} ${o.kind} ${set.sort().join()}`;
  let validate = validators.get(key);
  if (!validate) {
    validate = compileSchema(goPatterns(prunedSchema(docs.get(file)!, o, set)) as Schema);
    validators.set(key, validate);
  }
  return validate(o);
}

function prunedSchema(crds: unknown[], o: K8sObject, set: string[]): Schema {
  const schema = crdSchema(crds, o.kind, o.apiVersion) as {
    properties: Record<string, Schema>;
  };
  const spec = schema.properties.spec as { properties: Record<string, Schema> };
  return {
    ...schema,
    properties: {
      ...schema.properties,
      spec: {
        ...spec,
        properties: Object.fromEntries(Object.entries(spec.properties).filter(([k]) => set.includes(k))),
      },
    },
  };
}

/**
 * The CRDs' patterns are Go regular expressions; JavaScript has no inline `(?i)` flag (the
 * PrometheusRule's `partial_response_strategy`), so it is spelled out as a case-blind pattern.
 */
function goPatterns(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(goPatterns);
  if (!schema || typeof schema !== "object") return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) =>
      k === "pattern" && typeof v === "string" && v.includes("(?i)")
        ? [k, v.replace("(?i)", "").replace(/(?<!\\)[a-z]/g, (c) => `[${c}${c.toUpperCase()}]`)]
        : [k, goPatterns(v)],
    ),
  );
}

type Scrape = K8sObject & {
  spec: {
    jobName: string;
    scrapeInterval: string;
    staticConfigs: { targets: string[]; labels: Record<string, string> }[];
  };
};

const hostsOf = (sc: Scrape) => sc.spec.staticConfigs.map((c) => `${c.labels.host} ${c.targets.join()}`);

describe("ScrapeConfigs and the mesh's monitors", () => {
  const prod = estateOf("prod");
  const scrapes = scrapeConfigs(scrapeInputFor(prod, "monitoring")) as Scrape[];
  const job = (j: string): Scrape => {
    const s = scrapes.find((x) => x.spec.jobName === j);
    assert.ok(s, `job ${j}`);
    return s;
  };
  const expected = (estate: Estate, keep: (roles: readonly string[]) => boolean, port: number, switches = false) =>
    [
      ...(switches ? estate.switches.map((s) => ({ name: s.name, loopback: s.loopback })) : []),
      ...estate.servers.filter((s) => keep(s.roles)),
    ]
      .map((h) => `${h.name} ${h.loopback}:${port}`)
      .sort();

  it("derives one job per exporter from the model: node and FRR on every host, Nginx on balancers, Ceph on managers", () => {
    assert.deepEqual(
      scrapes.map((s) => s.spec.jobName),
      ["node", "frr", "nginx", "ceph"],
    );
    assert.deepEqual(
      hostsOf(job("node")),
      expected(prod, () => true, EXPORTERS.node.port, true),
    );
    assert.deepEqual(
      hostsOf(job("frr")),
      expected(prod, () => true, EXPORTERS.frr.port, true),
    );
    assert.deepEqual(
      hostsOf(job("nginx")),
      expected(prod, (r) => r.includes("lb"), 9113),
    );
    assert.deepEqual(
      hostsOf(job("ceph")),
      expected(prod, (r) => r.includes("ceph-mgr"), 9283),
    );
    assert.equal(hostsOf(job("nginx")).length, 2);
    assert.equal((job("ceph").spec as Record<string, unknown>).honorLabels, true);
  });

  it("labels every target with host, tier and rack (spines have no rack), at the model's scrape interval", () => {
    const node = job("node");
    assert.equal(node.spec.scrapeInterval, "30s");
    const label = (h: string) => node.spec.staticConfigs.find((c) => c.labels.host === h)!.labels;
    assert.deepEqual(label("spine-1"), { host: "spine-1", tier: "spine" });
    assert.deepEqual(label("leaf-1a"), { host: "leaf-1a", tier: "leaf", rack: "r1" });
    assert.deepEqual(label("wrk-1"), { host: "wrk-1", tier: "server", rack: "r1" });
  });

  it("follows the model: a new balancer is a new Nginx, node and FRR target, with no list to edit", () => {
    const lb = prod.servers.find((s) => s.name === "lb-1")!;
    const more: Estate = { ...prod, servers: [...prod.servers, { ...lb, name: "lb-3", loopback: "10.255.0.250" }] };
    const s = scrapeConfigs(scrapeInputFor(more, "monitoring")) as Scrape[];
    for (const j of ["nginx", "node", "frr"])
      assert.ok(
        hostsOf(s.find((x) => x.spec.jobName === j)!).some((h) => h.startsWith("lb-3 10.255.0.250:")),
        j,
      );
    assert.equal(scrapeHostsOf(more).length, scrapeHostsOf(prod).length + 1);
  });

  it("labels every object with the selector label, in the monitoring namespace", () => {
    for (const o of [...scrapes, ...meshMonitors({ namespace: "monitoring" })]) {
      assert.equal(o.metadata.labels?.[SELECTOR_LABEL.key], SELECTOR_LABEL.value, o.metadata.name);
      assert.equal(o.metadata.namespace, "monitoring");
    }
  });

  it("validates every ScrapeConfig, PodMonitor, ServiceMonitor and PrometheusRule against the pinned CRDs", () => {
    const objects: K8sObject[] = [
      ...scrapes,
      ...meshMonitors({ namespace: "monitoring" }),
      ...prometheusRules(rulesInputFor(prod)),
    ];
    assert.deepEqual([...new Set(objects.map((o) => o.kind))].sort(), [
      "PodMonitor",
      "PrometheusRule",
      "ScrapeConfig",
      "ServiceMonitor",
    ]);
    for (const o of objects) assert.deepEqual(crdErrors(o), [], `${o.kind} ${o.metadata.name}`);
  });

  it("rejects a misspelled field and a malformed value", () => {
    const node = job("node");
    const misspelt = { ...node, spec: { ...node.spec, scrapeIntervall: "30s" } } as K8sObject;
    assert.match(crdErrors(misspelt).join("\n"), /additionalProperty":"scrapeIntervall"/);
    const [first, ...rest] = node.spec.staticConfigs;
    const target = { ...node, spec: { ...node.spec, staticConfigs: [{ ...first, target: first.targets }, ...rest] } };
    assert.match(crdErrors(target as K8sObject).join("\n"), /additionalProperty":"target"/);
    const interval = { ...node, spec: { ...node.spec, scrapeInterval: "30 s" } } as K8sObject;
    assert.match(crdErrors(interval).join("\n"), /scrapeInterval must match pattern/);
    const [pod] = meshMonitors({ namespace: "monitoring" });
    const endpoints = (pod.spec as { podMetricsEndpoints: object[] }).podMetricsEndpoints;
    const badPod = { ...pod, spec: { ...pod.spec, podMetricsEndpoints: [{ ...endpoints[0], paths: "/x" }] } };
    assert.match(crdErrors(badPod as K8sObject).join("\n"), /additionalProperty":"paths"/);
  });

  it("scrapes Envoy's own statistics on every proxy (15090) and istiod's monitoring port", () => {
    const [pod, svc] = meshMonitors({ namespace: "monitoring" }) as (K8sObject & { spec: Record<string, any> })[];
    assert.deepEqual(pod.spec.namespaceSelector, { any: true });
    assert.deepEqual(pod.spec.selector, {
      matchExpressions: [{ key: "istio-prometheus-ignore", operator: "DoesNotExist" }],
    });
    assert.deepEqual(pod.spec.podMetricsEndpoints[0].relabelings[0], {
      action: "keep",
      sourceLabels: ["__meta_kubernetes_pod_container_name"],
      regex: "istio-proxy",
    });
    assert.deepEqual(pod.spec.podMetricsEndpoints[0].port, "http-envoy-prom");
    assert.deepEqual(pod.spec.podMetricsEndpoints[0].path, "/stats/prometheus");
    assert.deepEqual(svc.spec.namespaceSelector, { matchNames: ["istio-system"] });
    assert.deepEqual(svc.spec.endpoints, [{ port: "http-monitoring", path: "/metrics" }]);
  });
});
