/**
 * What Prometheus scrapes besides the chart's own monitors, as prometheus-operator objects.
 * Pure: no Pulumi, no config.
 *
 * - One `ScrapeConfig` (monitoring.coreos.com/v1alpha1) per exporter job for the hosts
 *   outside the cluster, with a static target per host at its loopback and the exporter's
 *   port (conventions.ts), labelled host, tier and rack. The hosts come from the model
 *   (input.ts): no hand-kept target list.
 * - The mesh: a `PodMonitor` for every Envoy's own statistics (sidecars and gateways,
 *   port 15090 `/stats/prometheus`, Istio's `envoy-stats` pattern) and a `ServiceMonitor`
 *   for istiod's control-plane metrics (15014).
 *
 * Every object carries SELECTOR_LABEL, the label Prometheus selects by (values.ts).
 */
import { PEERS } from "../kubernetes/values";
import { EXPORTERS, type ExporterJob, SELECTOR_LABEL, TARGET_LABELS } from "./conventions";

/** Labels of every monitoring object the estate creates, so that Prometheus selects it. */
export function selectorLabels(): Record<string, string> {
  return { [SELECTOR_LABEL.key]: SELECTOR_LABEL.value };
}

export type Tier = "server" | "spine" | "leaf";

/** A host outside the cluster and the exporters it runs. */
export interface ScrapeHost {
  readonly name: string;
  readonly tier: Tier;
  /** Servers and leaves; spines have none. */
  readonly rack?: string;
  /** Its loopback: where its exporters listen. */
  readonly address: string;
  readonly jobs: readonly ExporterJob[];
}

export interface ScrapeInput {
  readonly namespace: string;
  readonly scrapeInterval: string;
  readonly hosts: readonly ScrapeHost[];
}

/** A Kubernetes object as plain data (apiVersion, kind, metadata, spec). */
export interface K8sObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly spec?: object;
}

const JOBS: readonly ExporterJob[] = Object.values(EXPORTERS).map((e) => e.job);
const PORT: Record<ExporterJob, number> = Object.fromEntries(
  Object.values(EXPORTERS).map((e) => [e.job, e.port]),
) as Record<ExporterJob, number>;

const byName = (a: ScrapeHost, b: ScrapeHost): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** `<address>:<port>` of `host`'s exporter of `job`. */
export function targetOf(host: Pick<ScrapeHost, "address">, job: ExporterJob): string {
  return `${host.address}:${PORT[job]}`;
}

/** The ScrapeConfig's name for `job`. */
export const scrapeConfigName = (job: ExporterJob): string => `estate-${job}`;

/**
 * One ScrapeConfig per job that some host runs, its targets sorted by host name. The job
 * name is the exporter's (`node`, `frr`, `nginx`, `ceph`), as the rules and dashboards
 * query it.
 *
 * Ceph: every manager host runs the `prometheus` module, but only the active manager
 * serves data; a standby answers `/metrics` with an empty 200. So `up{job="ceph"}` is 1
 * on every healthy manager host and the `ceph_*` series come from one target at a time
 * (and move when the active manager fails over). Alerts must therefore aggregate over the
 * job (`max without (instance, host, tier, rack) (...)`, `absent(ceph_health_status)`)
 * and never expect Ceph series from a particular host. `honorLabels` keeps the module's
 * own `instance`/`hostname` labels of Ceph daemons, as Ceph's documentation asks.
 */
export function scrapeConfigs(input: ScrapeInput): K8sObject[] {
  const hosts = [...input.hosts].sort(byName);
  return JOBS.flatMap((job) => {
    const running = hosts.filter((h) => h.jobs.includes(job));
    if (running.length === 0) return [];
    return [
      {
        apiVersion: "monitoring.coreos.com/v1alpha1",
        kind: "ScrapeConfig",
        metadata: { name: scrapeConfigName(job), namespace: input.namespace, labels: selectorLabels() },
        spec: {
          jobName: job,
          scrapeInterval: input.scrapeInterval,
          metricsPath: "/metrics",
          scheme: "HTTP",
          ...(job === EXPORTERS.ceph.job ? { honorLabels: true } : {}),
          staticConfigs: running.map((h) => ({
            targets: [targetOf(h, job)],
            labels: {
              [TARGET_LABELS.host]: h.name,
              [TARGET_LABELS.tier]: h.tier,
              ...(h.rack ? { [TARGET_LABELS.rack]: h.rack } : {}),
            },
          })),
        },
      },
    ];
  });
}

/** The Envoy statistics port and path of every sidecar and gateway (Istio's `http-envoy-prom`). */
export const ENVOY_STATS = { port: 15090, portName: "http-envoy-prom", path: "/stats/prometheus" } as const;
/** istiod's monitoring port, as its Service names it. */
export const ISTIOD_MONITORING = { port: 15014, portName: "http-monitoring" } as const;

/**
 * The mesh's monitors (both live in the monitoring namespace, which Prometheus reads
 * monitors from; their own selectors reach into the mesh's namespaces):
 * - `envoy-stats`: Istio's own pattern: every pod in any namespace not labelled
 *   `istio-prometheus-ignore`, its `istio-proxy` container (sidecars and gateways alike)
 *   on the port the injector names `http-envoy-prom` (15090), `/stats/prometheus`; pods
 *   without a proxy have no such port and give no target: `istio_requests_total`,
 *   `istio_request_duration_milliseconds_*` per source and destination workload. The
 *   application namespaces' default-deny admits Prometheus on 15090 (kubernetes/values.ts).
 * - `istiod`: the control plane's Service in the istiod namespace, port `http-monitoring`
 *   (job `istiod`, the Service's name).
 */
export function meshMonitors(input: { readonly namespace: string }): K8sObject[] {
  const labels = selectorLabels();
  return [
    {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PodMonitor",
      metadata: { name: "envoy-stats", namespace: input.namespace, labels },
      spec: {
        jobLabel: "envoy-stats",
        namespaceSelector: { any: true },
        selector: { matchExpressions: [{ key: "istio-prometheus-ignore", operator: "DoesNotExist" }] },
        podMetricsEndpoints: [
          {
            port: ENVOY_STATS.portName,
            path: ENVOY_STATS.path,
            relabelings: [
              { action: "keep", sourceLabels: ["__meta_kubernetes_pod_container_name"], regex: "istio-proxy" },
              { action: "replace", sourceLabels: ["__meta_kubernetes_namespace"], targetLabel: "namespace" },
              { action: "replace", sourceLabels: ["__meta_kubernetes_pod_name"], targetLabel: "pod" },
            ],
          },
        ],
      },
    },
    {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "ServiceMonitor",
      metadata: { name: "istiod", namespace: input.namespace, labels },
      spec: {
        namespaceSelector: { matchNames: [PEERS.istiod.namespace] },
        selector: { matchLabels: { ...PEERS.istiod.podLabels } },
        endpoints: [{ port: ISTIOD_MONITORING.portName, path: "/metrics" }],
      },
    },
  ];
}
