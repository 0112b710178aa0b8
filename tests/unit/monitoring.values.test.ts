/**
 * kube-prometheus-stack values against the pinned chart: every key exists in its defaults
 * (Grafana's in the parent's `grafana:` section or the grafana chart's own), the Prometheus
 * and Alertmanager specs validate against their CRDs with unknown fields rejected, a
 * misspelled key fails; the selectors pick up the estate's objects and the chart's own
 * (the `*SelectorNilUsesHelmValues` trap); volumes on the Ceph class; Grafana's password
 * only through an existing Secret.
 */
import { strict as assert } from "assert";
import { alertmanagerConfig } from "../../components/monitoring/alertmanager";
import { SELECTOR_LABEL } from "../../components/monitoring/conventions";
import { alertmanagerInputFor, highAvailabilityOf } from "../../components/monitoring/input";
import { GRAFANA_ADMIN, monitoringValues, type MonitoringValuesInput } from "../../components/monitoring/values";
import { estateOf } from "../helpers/config";
import {
  compileSchema,
  crdSchema,
  loadAllRef,
  loadRef,
  type Schema,
  unknownKeys,
  type Validator,
} from "../helpers/reference";

const KPS = "kube-prometheus-stack/88.5.3";

/**
 * Keys allowed although the stored defaults do not list them, each with its reason:
 * - `kube-state-metrics.prometheus.monitor.additionalLabels`: a value of the
 *   kube-state-metrics subchart (8.4.0, pinned by the chart), whose own defaults are not
 *   in the reference set; the parent's section lists only some of its keys.
 * - `grafana.grafana.ini.auth.anonymous`: `grafana.ini` is Grafana's own configuration file,
 *   any section of Grafana's reference; the chart's defaults show only five of them.
 * - `grafana.persistence.storageClassName`: documented in the grafana chart's defaults only
 *   as a comment (`# storageClassName: default`); its PVC template reads it.
 */
const ALLOWED = [
  "kube-state-metrics.prometheus.monitor.additionalLabels",
  "grafana.grafana.ini.auth.anonymous",
  "grafana.persistence.storageClassName",
];

/** Both default sets as one: maps merged key by key (a key of either is known). */
function union(a: unknown, b: unknown): unknown {
  const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);
  if (!isMap(a) || !isMap(b)) return b ?? a;
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = union(a[k], v);
  return out;
}

/** Every values key the chart does not know; the Grafana subtree against both its default sets. */
function unknownValuesKeys(values: Record<string, unknown>): string[] {
  const kps = loadRef(`${KPS}/values.yaml`) as Record<string, unknown>;
  const grafanaChart = loadRef("grafana/12.11.1/values.yaml");
  return unknownKeys(values, { ...kps, grafana: union(grafanaChart, kps.grafana) }, ALLOWED);
}

const INPUT: MonitoringValuesInput = {
  scrapeInterval: "30s",
  evaluationInterval: "60s",
  retention: { time: "15d", size: "40GiB" },
  volumes: { prometheus: "50Gi", alertmanager: "2Gi", grafana: "10Gi" },
  storageClass: "kube-hot",
  highAvailability: true,
  alertmanagerConfig: alertmanagerConfig(alertmanagerInputFor(estateOf("prod"))),
  alertmanagerSecrets: ["alertmanager-estate-credentials"],
};

/**
 * A strict validator of a spec that compiles only the properties the value sets (the whole
 * Prometheus schema takes ajv seconds): a field the spec does not have is still rejected.
 */
function onlyTheFieldsSet(spec: Schema): Validator {
  const props = spec.properties as Record<string, Schema>;
  return (value) => {
    const set = Object.keys(value as object);
    return compileSchema({
      ...spec,
      properties: Object.fromEntries(Object.entries(props).filter(([k]) => set.includes(k))),
    })(value);
  };
}

type Values = {
  prometheus: { prometheusSpec: Record<string, unknown>; serviceMonitor: Record<string, unknown> };
  alertmanager: { alertmanagerSpec: Record<string, unknown> };
  grafana: Record<string, any>;
  defaultRules: { labels: Record<string, string>; rules: Record<string, boolean> };
} & Record<string, any>;

describe("kube-prometheus-stack values", () => {
  const values = monitoringValues(INPUT) as Values;
  let prometheusSpec: Validator;
  let alertmanagerSpec: Validator;

  before(() => {
    const specOf = (file: string, kind: string) =>
      (crdSchema(loadAllRef(file), kind) as { properties: { spec: Schema } }).properties.spec;
    prometheusSpec = onlyTheFieldsSet(specOf(`${KPS}/crds/crd-prometheuses.yaml`, "Prometheus"));
    alertmanagerSpec = onlyTheFieldsSet(specOf(`${KPS}/crds/crd-alertmanagers.yaml`, "Alertmanager"));
  });

  /** `prometheus.prometheusSpec` as the chart hands it to the CRD: its own switches out, `storageSpec` as `storage`. */
  const asPrometheusSpec = (spec: Record<string, unknown>): Record<string, unknown> => {
    const { storageSpec, ...rest } = spec;
    const out = Object.fromEntries(Object.entries(rest).filter(([k]) => !k.endsWith("NilUsesHelmValues")));
    return { ...out, storage: storageSpec };
  };

  it("sets only keys the chart's defaults have (Grafana: the parent's section or the grafana chart's)", () => {
    assert.deepEqual(unknownValuesKeys(values), []);
  });

  it("fails on a misspelled key, in the parent and in Grafana's subtree", () => {
    const misspelt = JSON.parse(JSON.stringify(values)) as Values;
    misspelt.prometheus.prometheusSpec.ruleSelectorNilUsesHelmValue = false;
    misspelt.grafana.persistance = { enabled: true };
    misspelt.grafana.sidecar.dashboards.labelValu = "1";
    assert.deepEqual(unknownValuesKeys(misspelt).sort(), [
      "grafana.persistance",
      "grafana.sidecar.dashboards.labelValu",
      "prometheus.prometheusSpec.ruleSelectorNilUsesHelmValue",
    ]);
  });

  it("validates the Prometheus and Alertmanager specs against their CRDs, unknown fields rejected", () => {
    assert.deepEqual(prometheusSpec(asPrometheusSpec(values.prometheus.prometheusSpec)), []);
    assert.deepEqual(alertmanagerSpec(values.alertmanager.alertmanagerSpec), []);
    const spec = values.prometheus.prometheusSpec as { storageSpec: { volumeClaimTemplate: { spec: object } } };
    const bad = {
      ...spec,
      storageSpec: {
        volumeClaimTemplate: { spec: { ...spec.storageSpec.volumeClaimTemplate.spec, storageClass: "x" } },
      },
    };
    assert.match(prometheusSpec(asPrometheusSpec(bad)).join("\n"), /additionalProperty":"storageClass"/);
    assert.match(
      prometheusSpec(asPrometheusSpec({ ...spec, retentionSize: "40G" })).join("\n"),
      /retentionSize must match/,
    );
  });

  it("selects the estate's rules, ScrapeConfigs and monitors by its label, and never by the release's alone", () => {
    const spec = values.prometheus.prometheusSpec;
    const selector = { matchLabels: { [SELECTOR_LABEL.key]: SELECTOR_LABEL.value } };
    for (const kind of ["rule", "serviceMonitor", "podMonitor", "probe", "scrapeConfig"]) {
      assert.equal(spec[`${kind}SelectorNilUsesHelmValues`], false, kind);
      assert.deepEqual(spec[`${kind}Selector`], selector, kind);
    }
  });

  it("gives the chart's own default rules and every monitor it still creates the selector label (or they go unscraped)", () => {
    const kps = loadRef(`${KPS}/values.yaml`) as Record<string, any>;
    const label = { [SELECTOR_LABEL.key]: SELECTOR_LABEL.value };
    assert.deepEqual(values.defaultRules.labels, label);
    // Every component with a ServiceMonitor in the chart, unless the chart's or our values turn it off.
    const enabled = (c: string) => (values[c]?.enabled ?? kps[c].enabled) !== false;
    const withMonitor = Object.keys(kps).filter((c) => kps[c]?.serviceMonitor?.additionalLabels !== undefined);
    assert.ok(withMonitor.length >= 10, withMonitor.join());
    for (const c of withMonitor.filter(enabled))
      assert.deepEqual(values[c]?.serviceMonitor?.additionalLabels, label, `${c}.serviceMonitor.additionalLabels`);
    assert.deepEqual(values.grafana.serviceMonitor.labels, label);
    assert.deepEqual(values["kube-state-metrics"].prometheus.monitor.additionalLabels, label);
    assert.equal(values.nodeExporter.enabled, false, "the hosts' own node exporter holds port 9100");
  });

  it("puts every volume on the default (Ceph) class, with retention and intervals from the model", () => {
    const spec = values.prometheus.prometheusSpec as Record<string, any>;
    assert.deepEqual(spec.storageSpec.volumeClaimTemplate.spec, {
      storageClassName: "kube-hot",
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "50Gi" } },
    });
    const am = values.alertmanager.alertmanagerSpec as Record<string, any>;
    assert.equal(am.storage.volumeClaimTemplate.spec.storageClassName, "kube-hot");
    assert.equal(am.storage.volumeClaimTemplate.spec.resources.requests.storage, "2Gi");
    assert.deepEqual(values.grafana.persistence, {
      enabled: true,
      type: "pvc",
      storageClassName: "kube-hot",
      size: "10Gi",
    });
    assert.deepEqual(
      [spec.scrapeInterval, spec.evaluationInterval, spec.retention, spec.retentionSize],
      ["30s", "60s", "15d", "40GiB"],
    );
  });

  it("replicates Prometheus (2) and Alertmanager (3) when highly available, as prod's model says; one each otherwise", () => {
    assert.equal(values.prometheus.prometheusSpec.replicas, 2);
    assert.equal(values.alertmanager.alertmanagerSpec.replicas, 3);
    const single = monitoringValues({ ...INPUT, highAvailability: false }) as Values;
    assert.equal(single.prometheus.prometheusSpec.replicas, 1);
    assert.equal(single.alertmanager.alertmanagerSpec.replicas, 1);
    const prod = estateOf("prod");
    assert.equal(highAvailabilityOf(prod), true);
    assert.equal(highAvailabilityOf({ ...prod, monitoring: { ...prod.monitoring, highAvailability: false } }), false);
  });

  it("gives Grafana its admin password only through an existing Secret, with anonymous access off", () => {
    assert.deepEqual(values.grafana.admin, {
      existingSecret: GRAFANA_ADMIN.secret,
      userKey: "admin-user",
      passwordKey: "admin-password",
    });
    assert.doesNotMatch(JSON.stringify(values), /adminPassword|password"\s*:/i);
    assert.deepEqual(values.grafana["grafana.ini"], { "auth.anonymous": { enabled: false } });
    assert.deepEqual(values.grafana.sidecar.dashboards, {
      enabled: true,
      label: "grafana_dashboard",
      labelValue: "1",
      searchNamespace: "ALL",
    });
    assert.deepEqual(values.alertmanager.alertmanagerSpec.secrets, ["alertmanager-estate-credentials"]);
  });
});
