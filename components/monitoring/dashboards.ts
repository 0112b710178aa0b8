/**
 * The estate's Grafana dashboards as ConfigMaps for the Grafana sidecar (label
 * DASHBOARD_LABEL, one `<name>.json` each): estate overview, fabric, Ceph, front tier and
 * mesh. Pure: typed input only (no Pulumi, no config); `rules-input.ts` adapts the model.
 *
 * For the Monitoring component (components/monitoring/index.ts), the stable exports:
 *   dashboardConfigMaps(input: DashboardsInput): ConfigMapObject[]   (tag as kind `grafana-dashboard`)
 *   dashboardsInputFor(estate) in rules-input.ts.
 * And for the checks: dashboards(input) (the Grafana JSON models), dashboardQueries(),
 * dashboardMetricNames() and metricNames(expr): the metric names a PromQL expression
 * selects, from Prometheus' own grammar (@prometheus-io/lezer-promql).
 *
 * Every panel queries the datasource variable `${datasource}` (a Prometheus datasource,
 * the chart's provisioned one by default).
 */
import { parser } from "@prometheus-io/lezer-promql";
import { DASHBOARD_LABEL, EXPORTERS, MONITORING_NAMESPACE, TARGET_LABELS, TEXTFILE_METRICS } from "./conventions";
import type { AlertThresholds } from "./rules";

export interface DashboardsInput {
  /** The alert thresholds, drawn as threshold lines. */
  readonly thresholds: AlertThresholds;
}

export interface ConfigMapObject {
  readonly apiVersion: "v1";
  readonly kind: "ConfigMap";
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Record<string, string>;
  };
  readonly data: Record<string, string>;
}

export interface Target {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat: string;
  readonly datasource: { readonly type: "prometheus"; readonly uid: string };
  readonly instant?: boolean;
  readonly format?: "table";
}

export interface Panel {
  readonly id: number;
  readonly type: "timeseries" | "stat" | "table" | "row";
  readonly title: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly datasource?: { readonly type: "prometheus"; readonly uid: string };
  readonly targets?: readonly Target[];
  readonly fieldConfig?: unknown;
  readonly options?: unknown;
}

export interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly tags: readonly string[];
  readonly schemaVersion: number;
  readonly panels: readonly Panel[];
  readonly [key: string]: unknown;
}

// ---- metric names ---------------------------------------------------------------------------

/** Grafana's interval variables, replaced by a duration so that the expression parses. */
const GRAFANA_INTERVALS = /\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}/g;

/**
 * The metric names a PromQL expression selects (vector selectors' names and
 * `{__name__="..."}`), from a parse with Prometheus' own grammar. Grafana's interval
 * variables are read as `5m`. Throws on an expression that does not parse.
 */
export function metricNames(expr: string): string[] {
  const text = expr.replace(GRAFANA_INTERVALS, "5m");
  const tree = parser.parse(text);
  const out = new Set<string>();
  const errors: number[] = [];
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError) errors.push(cursor.from);
    else if (cursor.name === "Identifier" && cursor.node.parent?.name === "VectorSelector")
      out.add(text.slice(cursor.from, cursor.to));
    else if (cursor.name === "UnquotedLabelMatcher" || cursor.name === "QuotedLabelMatcher") {
      const m = /^\s*__name__\s*=\s*"([^"]+)"\s*$/.exec(text.slice(cursor.from, cursor.to));
      if (m) out.add(m[1]);
    }
  } while (cursor.next());
  if (errors.length) throw new Error(`PromQL does not parse at ${errors[0]}: ${text}`);
  return [...out].sort();
}

// ---- panels ----------------------------------------------------------------------------------

const DS = { type: "prometheus", uid: "${datasource}" } as const;
const HOST = TARGET_LABELS.host;
const sel = (metric: string, job: string, extra = ""): string => `${metric}{job="${job}"${extra ? `,${extra}` : ""}}`;
const NODE = EXPORTERS.node.job;
const FRR = EXPORTERS.frr.job;
const NGINX = EXPORTERS.nginx.job;
const CEPH = EXPORTERS.ceph.job;
const RATE = "$__rate_interval";

interface PanelSpec {
  readonly title: string;
  readonly type?: Panel["type"];
  readonly queries: readonly (readonly [expr: string, legend: string])[];
  readonly unit?: string;
  readonly w?: number;
  readonly h?: number;
  /** Red at and above this value (a threshold line for time series). */
  readonly red?: number;
  readonly min?: number;
  readonly max?: number;
  /** Value text for stat panels: `{ "0": "DOWN", ... }`. */
  readonly mappings?: Record<string, string>;
}

/** Lays panels out left to right in a 24-column grid, ids from 1. */
function layout(specs: readonly PanelSpec[]): Panel[] {
  let x = 0;
  let y = 0;
  let rowH = 0;
  return specs.map((s, i) => {
    const w = s.w ?? 12;
    const h = s.h ?? 8;
    if (x + w > 24) {
      x = 0;
      y += rowH;
      rowH = 0;
    }
    const gridPos = { x, y, w, h };
    x += w;
    rowH = Math.max(rowH, h);
    const type = s.type ?? "timeseries";
    const steps: { color: string; value: number | null }[] = [{ color: "green", value: null }];
    if (s.red !== undefined) steps.push({ color: "red", value: s.red });
    return {
      id: i + 1,
      type,
      title: s.title,
      gridPos,
      datasource: DS,
      targets: s.queries.map(([expr, legend], q) => ({
        refId: String.fromCharCode(65 + q),
        expr,
        legendFormat: legend,
        datasource: DS,
        ...(type === "timeseries" ? {} : { instant: true }),
        ...(type === "table" ? { format: "table" as const } : {}),
      })),
      fieldConfig: {
        defaults: {
          unit: s.unit ?? "short",
          ...(s.min !== undefined ? { min: s.min } : {}),
          ...(s.max !== undefined ? { max: s.max } : {}),
          thresholds: { mode: "absolute", steps },
          ...(s.mappings
            ? {
                mappings: [
                  {
                    type: "value",
                    options: Object.fromEntries(
                      Object.entries(s.mappings).map(([v, text], index) => [v, { text, index }]),
                    ),
                  },
                ],
              }
            : {}),
          ...(type === "timeseries" && s.red !== undefined ? { custom: { thresholdsStyle: { mode: "line" } } } : {}),
        },
        overrides: [],
      },
      options:
        type === "stat"
          ? { reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false }, colorMode: "background" }
          : type === "table"
            ? { showHeader: true }
            : { legend: { displayMode: "table", placement: "right", showLegend: true }, tooltip: { mode: "multi" } },
    };
  });
}

function dashboard(uid: string, title: string, specs: readonly PanelSpec[]): Dashboard {
  return {
    uid,
    title,
    tags: ["estate"],
    editable: false,
    schemaVersion: 39,
    version: 1,
    refresh: "1m",
    timezone: "utc",
    time: { from: "now-6h", to: "now" },
    templating: {
      list: [
        {
          name: "datasource",
          label: "Datasource",
          type: "datasource",
          query: "prometheus",
          current: {},
          hide: 0,
          refresh: 1,
        },
      ],
    },
    annotations: { list: [] },
    panels: layout(specs),
  };
}

function overview(t: AlertThresholds): Dashboard {
  const cpu = `1 - avg without (cpu, mode) (rate(${sel("node_cpu_seconds_total", NODE, 'mode="idle"')}[${RATE}]))`;
  return dashboard("estate-overview", "Estate overview", [
    { title: "Hosts up", type: "stat", w: 6, h: 4, queries: [[`count(${sel("up", NODE)} == 1)`, "up"]] },
    {
      title: "Hosts down",
      type: "stat",
      w: 6,
      h: 4,
      red: 1,
      queries: [[`count(${sel("up", NODE)} == 0) or vector(0)`, "down"]],
    },
    {
      title: "Alerts firing",
      type: "stat",
      w: 6,
      h: 4,
      red: 1,
      queries: [[`count(ALERTS{alertstate="firing"}) or vector(0)`, "firing"]],
    },
    {
      title: "Exporter targets down",
      type: "stat",
      w: 6,
      h: 4,
      red: 1,
      queries: [[`count(up{job=~"${[NODE, FRR, NGINX].join("|")}"} == 0) or vector(0)`, "down"]],
    },
    {
      title: "CPU busy (all cores)",
      unit: "percentunit",
      min: 0,
      max: 1,
      red: t.cpuBusyRatio,
      queries: [[cpu, `{{${HOST}}}`]],
    },
    {
      title: "Memory available",
      unit: "percentunit",
      min: 0,
      max: 1,
      queries: [
        [`${sel("node_memory_MemAvailable_bytes", NODE)} / ${sel("node_memory_MemTotal_bytes", NODE)}`, `{{${HOST}}}`],
      ],
    },
    {
      title: "Least free filesystem",
      unit: "percentunit",
      min: 0,
      max: 1,
      queries: [
        [
          `min by (${HOST}) (${sel("node_filesystem_avail_bytes", NODE, 'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs"')} / ${sel("node_filesystem_size_bytes", NODE, 'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs"')})`,
          `{{${HOST}}}`,
        ],
      ],
    },
    {
      title: "Memory pressure (full stall)",
      unit: "percentunit",
      red: t.memoryStallRatio,
      queries: [[`rate(${sel("node_pressure_memory_stalled_seconds_total", NODE)}[${RATE}])`, `{{${HOST}}}`]],
    },
    {
      title: "Load (1 min) per core",
      queries: [
        [
          `${sel("node_load1", NODE)} / on (instance) count by (instance) (${sel("node_cpu_seconds_total", NODE, 'mode="idle"')})`,
          `{{${HOST}}}`,
        ],
      ],
    },
    {
      title: "Clock offset",
      unit: "s",
      red: t.clockOffsetSeconds,
      queries: [[`abs(${sel("node_timex_offset_seconds", NODE)})`, `{{${HOST}}}`]],
    },
    {
      title: "Network received",
      unit: "Bps",
      queries: [
        [
          `sum by (${HOST}) (rate(${sel("node_network_receive_bytes_total", NODE, 'device!="lo"')}[${RATE}]))`,
          `{{${HOST}}}`,
        ],
      ],
    },
    {
      title: "Network sent",
      unit: "Bps",
      queries: [
        [
          `sum by (${HOST}) (rate(${sel("node_network_transmit_bytes_total", NODE, 'device!="lo"')}[${RATE}]))`,
          `{{${HOST}}}`,
        ],
      ],
    },
  ]);
}

function fabric(): Dashboard {
  return dashboard("estate-fabric", "Estate fabric", [
    {
      title: "BGP sessions established",
      type: "stat",
      w: 8,
      h: 4,
      queries: [[`count(${sel("frr_bgp_peer_state", FRR)} == 1) or vector(0)`, "established"]],
    },
    {
      title: "BGP sessions not established",
      type: "stat",
      w: 8,
      h: 4,
      red: 1,
      queries: [[`count(${sel("frr_bgp_peer_state", FRR)} != 1) or vector(0)`, "down"]],
    },
    {
      title: "BFD peers down",
      type: "stat",
      w: 8,
      h: 4,
      red: 1,
      queries: [[`count(${sel("frr_bfd_peer_state", FRR)} != 1) or vector(0)`, "down"]],
    },
    {
      title: "BGP session state (1 established)",
      type: "table",
      w: 24,
      queries: [[sel("frr_bgp_peer_state", FRR), `{{${HOST}}} → {{peer}}`]],
      mappings: { "0": "down", "1": "established", "2": "admin down" },
    },
    {
      title: "BGP prefixes received",
      queries: [[sel("frr_bgp_peer_prefixes_received_count_total", FRR), `{{${HOST}}} ← {{peer}}`]],
    },
    {
      title: "BGP session uptime",
      unit: "s",
      queries: [[sel("frr_bgp_peer_uptime_seconds", FRR), `{{${HOST}}} → {{peer}}`]],
    },
    {
      title: "BFD peer state (1 up)",
      queries: [[sel("frr_bfd_peer_state", FRR), `{{${HOST}}} → {{peer}}`]],
      min: 0,
      max: 1,
    },
    {
      title: "FRR exporter collectors (1 ok)",
      queries: [[sel("frr_collector_up", FRR), `{{${HOST}}} {{collector}}`]],
      min: 0,
      max: 1,
    },
  ]);
}

function ceph(): Dashboard {
  return dashboard("estate-ceph", "Estate Ceph", [
    {
      title: "Health",
      type: "stat",
      w: 6,
      h: 4,
      red: 2,
      queries: [[`max(${sel("ceph_health_status", CEPH)})`, "health"]],
      mappings: { "0": "HEALTH_OK", "1": "HEALTH_WARN", "2": "HEALTH_ERR" },
    },
    { title: "OSDs up", type: "stat", w: 6, h: 4, queries: [[`sum(${sel("ceph_osd_up", CEPH)})`, "up"]] },
    { title: "OSDs in", type: "stat", w: 6, h: 4, queries: [[`sum(${sel("ceph_osd_in", CEPH)})`, "in"]] },
    {
      title: "Monitors in quorum",
      type: "stat",
      w: 6,
      h: 4,
      queries: [[`sum(${sel("ceph_mon_quorum_status", CEPH)})`, "in quorum"]],
    },
    {
      title: "Raw capacity used",
      unit: "percentunit",
      min: 0,
      max: 1,
      red: 0.85,
      queries: [
        [`max(${sel("ceph_cluster_total_used_bytes", CEPH)}) / max(${sel("ceph_cluster_total_bytes", CEPH)})`, "used"],
      ],
    },
    {
      title: "Pool stored",
      unit: "bytes",
      queries: [
        [
          `max by (pool_id) (${sel("ceph_pool_stored", CEPH)}) * on (pool_id) group_left (name) max by (pool_id, name) (${sel("ceph_pool_metadata", CEPH)})`,
          "{{name}}",
        ],
      ],
    },
    {
      title: "Pool operations",
      unit: "iops",
      queries: [
        [`sum by (pool_id) (rate(${sel("ceph_pool_rd", CEPH)}[${RATE}]))`, "read {{pool_id}}"],
        [`sum by (pool_id) (rate(${sel("ceph_pool_wr", CEPH)}[${RATE}]))`, "write {{pool_id}}"],
      ],
    },
    {
      title: "OSD state (1 up)",
      type: "table",
      queries: [
        [
          `max by (ceph_daemon) (${sel("ceph_osd_up", CEPH)}) * on (ceph_daemon) group_left (hostname) max by (ceph_daemon, hostname) (${sel("ceph_osd_metadata", CEPH)})`,
          "{{ceph_daemon}} {{hostname}}",
        ],
      ],
    },
  ]);
}

function frontTier(t: AlertThresholds): Dashboard {
  const state = sel(TEXTFILE_METRICS.vrrpState.name, NODE);
  const inst = TEXTFILE_METRICS.vrrpState.labels[0];
  return dashboard("estate-frontend", "Estate front tier", [
    {
      title: "Nginx up",
      type: "stat",
      w: 8,
      h: 4,
      queries: [[sel("nginx_up", NGINX), `{{${HOST}}}`]],
      mappings: { "0": "DOWN", "1": "UP" },
    },
    {
      title: "VRRP masters per instance",
      type: "stat",
      w: 8,
      h: 4,
      queries: [[`count by (${inst}) (${state} == 2) or count by (${inst}) (${state}) * 0`, `{{${inst}}}`]],
    },
    {
      title: "Certificate days left",
      type: "stat",
      w: 8,
      h: 4,
      queries: [[`(${sel(TEXTFILE_METRICS.tlsNotAfter.name, NODE)} - time()) / 86400`, `{{${HOST}}} {{path}}`]],
      unit: "d",
      red: t.certificateWarningDays,
    },
    {
      title: "VRRP state (0 init, 1 backup, 2 master, 3 fault)",
      queries: [[state, `{{${HOST}}} {{${inst}}}`]],
      min: 0,
      max: 3,
    },
    {
      title: "Requests per second",
      unit: "reqps",
      queries: [[`rate(${sel("nginx_http_requests_total", NGINX)}[${RATE}])`, `{{${HOST}}}`]],
    },
    {
      title: "Connections",
      queries: [
        [sel("nginx_connections_active", NGINX), `{{${HOST}}} active`],
        [sel("nginx_connections_waiting", NGINX), `{{${HOST}}} waiting`],
      ],
    },
    {
      title: "Connections accepted − handled (dropped)",
      queries: [
        [
          `rate(${sel("nginx_connections_accepted", NGINX)}[${RATE}]) - rate(${sel("nginx_connections_handled", NGINX)}[${RATE}])`,
          `{{${HOST}}}`,
        ],
      ],
    },
  ]);
}

function mesh(t: AlertThresholds): Dashboard {
  const reqs = (extra = ""): string =>
    `sum by (destination_service) (rate(istio_requests_total{reporter="destination"${extra}}[${RATE}]))`;
  return dashboard("estate-mesh", "Estate mesh", [
    { title: "Requests per second by service", unit: "reqps", w: 24, queries: [[reqs(), "{{destination_service}}"]] },
    {
      title: "5xx share by service",
      unit: "percentunit",
      red: t.istioErrorRatio,
      queries: [[`${reqs(',response_code=~"5.."')} / ${reqs()}`, "{{destination_service}}"]],
    },
    {
      title: "p99 latency by service",
      unit: "ms",
      red: t.istioP99LatencyMs,
      queries: [
        [
          `histogram_quantile(0.99, sum by (destination_service, le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[${RATE}])))`,
          "{{destination_service}}",
        ],
      ],
    },
    {
      title: "API server 5xx share",
      unit: "percentunit",
      red: t.apiServerErrorRatio,
      queries: [
        [
          `sum by (instance) (rate(apiserver_request_total{code=~"5.."}[${RATE}])) / sum by (instance) (rate(apiserver_request_total[${RATE}]))`,
          "{{instance}}",
        ],
      ],
    },
    {
      title: "etcd snapshot age",
      unit: "s",
      red: t.etcdSnapshotMaxAgeSeconds,
      queries: [[`time() - ${sel(TEXTFILE_METRICS.etcdSnapshot.name, NODE)}`, `{{${HOST}}}`]],
    },
  ]);
}

/** The five dashboards' JSON models, in a fixed order. */
export function dashboards(input: DashboardsInput): Dashboard[] {
  const t = input.thresholds;
  return [overview(t), fabric(), ceph(), frontTier(t), mesh(t)];
}

/** One ConfigMap per dashboard, labelled for the Grafana sidecar, data `<uid>.json`. */
export function dashboardConfigMaps(input: DashboardsInput): ConfigMapObject[] {
  return dashboards(input).map((d) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: `dashboard-${d.uid}`,
      namespace: MONITORING_NAMESPACE,
      labels: { [DASHBOARD_LABEL.key]: DASHBOARD_LABEL.value },
    },
    data: { [`${d.uid}.json`]: JSON.stringify(d, null, 2) },
  }));
}

/** Every query of every dashboard. */
export function dashboardQueries(input: DashboardsInput): { dashboard: string; panel: string; expr: string }[] {
  return dashboards(input).flatMap((d) =>
    d.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ dashboard: d.uid, panel: p.title, expr: t.expr }))),
  );
}

/** The metric names each dashboard's queries use, by dashboard uid. */
export function dashboardMetricNames(input: DashboardsInput): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const q of dashboardQueries(input)) for (const m of metricNames(q.expr)) (out[q.dashboard] ??= new Set()).add(m);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()]));
}
