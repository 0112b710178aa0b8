/**
 * The estate's alert rules as PrometheusRule objects, one per part of the estate. Pure:
 * typed input only (no Pulumi, no config); `rules-input.ts` adapts the model.
 *
 * For the Monitoring component (components/monitoring/index.ts), the stable exports:
 *   prometheusRules(input: RulesInput): PrometheusRuleObject[]
 *     full objects: apiVersion monitoring.coreos.com/v1, kind PrometheusRule,
 *     metadata { name, namespace: MONITORING_NAMESPACE, labels { [SELECTOR_LABEL.key]: SELECTOR_LABEL.value } },
 *     spec.groups; one object per part present in the estate (tag each as kind `prometheus-rules`).
 *   ruleGroups(input: RulesInput): RuleGroup[]   the same groups, as a plain Prometheus rule file's `groups`.
 *   rulesInputFor(estate) in rules-input.ts.
 *
 * Every expression selects the estate's exporters by their job (conventions.ts EXPORTERS)
 * and names the host by the target label TARGET_LABELS.host that the ScrapeConfigs set.
 * Rules of the form `state != 1` are silent when their series is absent (exporter broken,
 * target gone): each is paired with an alert on that case (collector failed, exporter or
 * target down, absent()).
 */
import {
  EXPORTERS,
  type ExporterJob,
  MONITORING_NAMESPACE,
  SELECTOR_LABEL,
  type Severity,
  TARGET_LABELS,
  TEXTFILE_METRICS,
  VRRP_STATES,
} from "./conventions";

/** The thresholds of the rules (config: estate:monitoring.alerts). */
export interface AlertThresholds {
  /** Busy share of all a host's cores, 0-1. */
  readonly cpuBusyRatio: number;
  readonly memoryAvailableRatio: number;
  readonly memoryStallRatio: number;
  readonly filesystemFreeRatio: number;
  readonly filesystemFillHours: number;
  readonly clockOffsetSeconds: number;
  readonly certificateWarningDays: number;
  readonly certificateCriticalDays: number;
  readonly apiServerErrorRatio: number;
  readonly istioErrorRatio: number;
  readonly istioP99LatencyMs: number;
  readonly istioMinRequestRate: number;
  /** The newest etcd snapshot's age above which it is stale, in seconds. */
  readonly etcdSnapshotMaxAgeSeconds: number;
}

/** A scrape target the model expects: the exporter's job on a host. */
export interface ExpectedTarget {
  readonly job: ExporterJob;
  readonly host: string;
}

export interface RulesInput {
  readonly thresholds: AlertThresholds;
  /** Every target outside the cluster the ScrapeConfigs list (a missing one is an alert). */
  readonly targets: readonly ExpectedTarget[];
  /** The front tier's VRRP instances (`vrrp_instance` of estate_vrrp_state); none: no VRRP rules. */
  readonly vrrpInstances: readonly string[];
  /** Hosts that serve the front tier's certificate (the TLS expiry rules); none: no TLS rules. */
  readonly tlsHosts: readonly string[];
  /** K3s servers (etcd snapshots); none: no Kubernetes rules. */
  readonly k3sServers: readonly string[];
  /** Whether the Istio mesh runs (its service rules). */
  readonly mesh: boolean;
}

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  /** Absent: fires on the first evaluation that matches (event alerts). */
  readonly for?: string;
  readonly labels: { readonly severity: Severity };
  readonly annotations: { readonly summary: string; readonly description: string };
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

export interface PrometheusRuleObject {
  readonly apiVersion: "monitoring.coreos.com/v1";
  readonly kind: "PrometheusRule";
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Record<string, string>;
  };
  readonly spec: { readonly groups: readonly RuleGroup[] };
}

// ---- PromQL building blocks -----------------------------------------------------------------

const HOST = TARGET_LABELS.host;
const NODE = EXPORTERS.node.job;
const FRR = EXPORTERS.frr.job;
const NGINX = EXPORTERS.nginx.job;
const CEPH = EXPORTERS.ceph.job;
const VRRP_STATE = TEXTFILE_METRICS.vrrpState.name;
const VRRP_LAST = TEXTFILE_METRICS.vrrpLastTransition.name;
const VRRP_INSTANCE = TEXTFILE_METRICS.vrrpState.labels[0];
const TLS_NOT_AFTER = TEXTFILE_METRICS.tlsNotAfter.name;
const ETCD_SNAPSHOT = TEXTFILE_METRICS.etcdSnapshot.name;

/** A PromQL string literal (double-quoted, escaped). */
export function promString(s: string): string {
  return JSON.stringify(s);
}

/** An RE2 pattern matching exactly one of `values`. */
function oneOf(values: readonly string[]): string {
  return values.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
}

/** `metric{job="<job>",extra...}`. */
function sel(metric: string, job: string, extra = ""): string {
  return `${metric}{job=${promString(job)}${extra ? `,${extra}` : ""}}`;
}

/** A number as PromQL writes it (no exponent for the values the thresholds take). */
function num(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`alert threshold ${n} is not a finite number`);
  return String(Number(n.toPrecision(12)));
}

function percent(ratio: number): string {
  return `${num(ratio * 100)}%`;
}

/** `{{ $labels.<name> }}` */
const L = (name: string): string => `{{ $labels.${name} }}`;
const H = L(HOST);

/** Filesystems that are not disks: memory-backed, container layers, images. */
const FS = 'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse\\\\..*"';
/** The host's node exporter is down (the host itself is the problem, not the exporter). */
const NODE_DOWN = `(${sel("up", NODE)} == 0)`;

function alert(
  name: string,
  expr: string,
  forDuration: string | undefined,
  severity: Severity,
  summary: string,
  description: string,
): AlertRule {
  return {
    alert: name,
    expr,
    ...(forDuration ? { for: forDuration } : {}),
    labels: { severity },
    annotations: { summary, description },
  };
}

// ---- groups ----------------------------------------------------------------------------------

function nodeRules(input: RulesInput): AlertRule[] {
  const t = input.thresholds;
  const avail = sel("node_filesystem_avail_bytes", NODE, FS);
  const size = sel("node_filesystem_size_bytes", NODE, FS);
  const writable = `${sel("node_filesystem_readonly", NODE, FS)} == 0`;
  const targets = [...input.targets].sort((a, b) => (a.host + a.job < b.host + b.job ? -1 : 1));
  return [
    alert(
      "HostDown",
      `${sel("up", NODE)} == 0`,
      "2m",
      "critical",
      `Host ${H} is down`,
      `The node exporter of ${H} (${L("instance")}) has not answered Prometheus for 2 minutes: the host is down or unreachable.`,
    ),
    ...(targets.length
      ? [
          alert(
            "ScrapeTargetMissing",
            targets.map((x) => `absent(${sel("up", x.job, `${HOST}=${promString(x.host)}`)})`).join(" or "),
            "10m",
            "warning",
            `Prometheus has no ${L("job")} target for ${H}`,
            `The model expects the ${L("job")} exporter of ${H} to be scraped, but Prometheus has no such target: its ScrapeConfig was not picked up or lost the host.`,
          ),
        ]
      : []),
    alert(
      "HostHighCpu",
      `1 - avg without (cpu, mode) (rate(${sel("node_cpu_seconds_total", NODE, 'mode="idle"')}[5m])) > ${num(t.cpuBusyRatio)}`,
      "5m",
      "warning",
      `Host ${H} CPU above ${percent(t.cpuBusyRatio)}`,
      `${H} has kept {{ $value | humanizePercentage }} of all its cores busy for 5 minutes (threshold ${percent(t.cpuBusyRatio)}).`,
    ),
    alert(
      "HostMemoryLow",
      `${sel("node_memory_MemAvailable_bytes", NODE)} / ${sel("node_memory_MemTotal_bytes", NODE)} < ${num(t.memoryAvailableRatio)}`,
      "10m",
      "warning",
      `Host ${H} is low on memory`,
      `${H} has only {{ $value | humanizePercentage }} of its memory available (threshold ${percent(t.memoryAvailableRatio)}).`,
    ),
    alert(
      "HostMemoryStalled",
      `rate(${sel("node_pressure_memory_stalled_seconds_total", NODE)}[5m]) > ${num(t.memoryStallRatio)}`,
      "10m",
      "warning",
      `Host ${H} stalls on memory`,
      `Every task of ${H} waited for memory {{ $value | humanizePercentage }} of the time over 5 minutes (pressure stall "full", threshold ${percent(t.memoryStallRatio)}).`,
    ),
    alert(
      "HostFilesystemAlmostFull",
      `${avail} / ${size} < ${num(t.filesystemFreeRatio)} and ${writable}`,
      "15m",
      "critical",
      `Filesystem ${L("mountpoint")} on ${H} is almost full`,
      `${L("mountpoint")} (${L("device")}) on ${H} has {{ $value | humanizePercentage }} free (threshold ${percent(t.filesystemFreeRatio)}).`,
    ),
    alert(
      "HostFilesystemFillingUp",
      `predict_linear(${avail}[6h], ${num(t.filesystemFillHours * 3600)}) < 0 and ${avail} / ${size} < 0.4 and ${writable}`,
      "1h",
      "warning",
      `Filesystem ${L("mountpoint")} on ${H} fills up within ${num(t.filesystemFillHours)} hours`,
      `At the rate of the last 6 hours, ${L("mountpoint")} (${L("device")}) on ${H} is full within ${num(t.filesystemFillHours)} hours; it has less than 40% free.`,
    ),
    alert(
      "HostClockNotSynchronised",
      `min_over_time(${sel("node_timex_sync_status", NODE)}[5m]) == 0`,
      "10m",
      "warning",
      `Clock of ${H} is not synchronised`,
      `The kernel reports the clock of ${H} unsynchronised for 15 minutes: check chrony and its time sources.`,
    ),
    alert(
      "HostClockSkew",
      `abs(${sel("node_timex_offset_seconds", NODE)}) > ${num(t.clockOffsetSeconds)}`,
      "10m",
      "warning",
      `Clock of ${H} is off by {{ $value | humanizeDuration }}`,
      `The clock of ${H} is {{ $value | humanizeDuration }} away from its time source (threshold ${num(t.clockOffsetSeconds)} s); Ceph monitors and etcd need close clocks.`,
    ),
  ];
}

function fabricRules(): AlertRule[] {
  return [
    alert(
      "BgpSessionDown",
      `${sel("frr_bgp_peer_state", FRR)} != 1`,
      "1m",
      "critical",
      `BGP session ${H} → ${L("peer")} is down`,
      `The BGP session of ${H} (AS ${L("local_as")}) to ${L("peer")} (AS ${L("peer_as")}, VRF ${L("vrf")}, ${L("afi")} ${L("safi")}) is not established: state {{ $value }} (0 down, 2 administratively down). Its path through the fabric is lost.`,
    ),
    alert(
      "BfdPeerDown",
      `${sel("frr_bfd_peer_state", FRR)} != 1`,
      "1m",
      "warning",
      `BFD peer ${L("peer")} of ${H} is down`,
      `BFD on ${H} (local ${L("local")}) reports peer ${L("peer")} down: the link or the peer's forwarding failed.`,
    ),
    alert(
      "FrrCollectorFailed",
      `${sel("frr_collector_up", FRR)} == 0`,
      "5m",
      "warning",
      `FRR exporter's ${L("collector")} collector fails on ${H}`,
      `The FRR exporter on ${H} cannot read ${L("collector")} from FRR, so its ${L("collector")} sessions are not watched (no series: the session alerts cannot fire). Check the exporter's vtysh options.`,
    ),
    alert(
      "FrrExporterDown",
      `${sel("up", FRR)} == 0 unless on (${HOST}) ${NODE_DOWN}`,
      "5m",
      "warning",
      `FRR exporter on ${H} is down`,
      `The FRR exporter of ${H} (${L("instance")}) does not answer while the host is up: its BGP sessions and BFD peers are not watched.`,
    ),
  ];
}

function frontendRules(input: RulesInput): AlertRule[] {
  const t = input.thresholds;
  const state = (extra = ""): string => sel(VRRP_STATE, NODE, extra);
  const hasNginx = input.targets.some((x) => x.job === NGINX);
  const vrrp = input.vrrpInstances.length > 0;
  const day = 86400;
  const left = `${sel(TLS_NOT_AFTER, NODE)} - time()`;
  return [
    ...(hasNginx
      ? [
          alert(
            "NginxDown",
            `${sel("nginx_up", NGINX)} == 0`,
            "1m",
            "critical",
            `Nginx is down on balancer ${H}`,
            `The Nginx exporter of ${H} cannot read Nginx's stub_status: Nginx is stopped or stuck; keepalived's check moves the VIP away from it.`,
          ),
          alert(
            "NginxExporterDown",
            `${sel("up", NGINX)} == 0 unless on (${HOST}) ${NODE_DOWN}`,
            "2m",
            "warning",
            `Nginx exporter on ${H} is down`,
            `The Nginx exporter of ${H} (${L("instance")}) does not answer while the host is up: Nginx on ${H} is not watched.`,
          ),
        ]
      : []),
    ...(vrrp
      ? [
          alert(
            "VrrpTransition",
            `changes(${state()}[10m]) > 0 or changes(${sel(VRRP_LAST, NODE)}[10m]) > 0`,
            undefined,
            "warning",
            `VRRP ${L(VRRP_INSTANCE)} changed state on ${H}`,
            `${H} changed its VRRP state of ${L(VRRP_INSTANCE)} in the last 10 minutes: the VIP moved (a balancer or its Nginx failed, or came back).`,
          ),
          alert(
            "VrrpNoMaster",
            `count by (${VRRP_INSTANCE}) (${state()}) unless count by (${VRRP_INSTANCE}) (${state()} == ${VRRP_STATES.MASTER})` +
              input.vrrpInstances
                .map((i) => ` or count by (${VRRP_INSTANCE}) (absent(${state(`${VRRP_INSTANCE}=${promString(i)}`)}))`)
                .join(""),
            "1m",
            "critical",
            `No balancer is VRRP master of ${L(VRRP_INSTANCE)}`,
            `No balancer reports MASTER for ${L(VRRP_INSTANCE)} (or none reports the instance at all): nobody holds the VIP, the front tier is unreachable.`,
          ),
          alert(
            "VrrpSplitBrain",
            `count by (${VRRP_INSTANCE}) (${state()} == ${VRRP_STATES.MASTER}) > 1`,
            "1m",
            "critical",
            `Two VRRP masters of ${L(VRRP_INSTANCE)}`,
            `{{ $value }} balancers report MASTER for ${L(VRRP_INSTANCE)} at once (split brain): VRRP adverts between the balancers are lost and both answer on the VIP.`,
          ),
          alert(
            "VrrpFault",
            `${state()} == ${VRRP_STATES.FAULT}`,
            "1m",
            "warning",
            `Balancer ${H} is in VRRP FAULT for ${L(VRRP_INSTANCE)}`,
            `keepalived on ${H} put ${L(VRRP_INSTANCE)} in FAULT (its Nginx check or interface failed): it cannot take the VIP.`,
          ),
        ]
      : []),
    ...(input.tlsHosts.length
      ? [
          alert(
            "TlsCertificateExpiring",
            `${left} < ${num(t.certificateWarningDays * day)} >= ${num(t.certificateCriticalDays * day)}`,
            "10m",
            "warning",
            `Certificate ${L("path")} on ${H} expires in {{ $value | humanizeDuration }}`,
            `The certificate ${L("path")} served by ${H} expires in {{ $value | humanizeDuration }} (warning below ${num(t.certificateWarningDays)} days): renew it (estate:tlsCertificate).`,
          ),
          alert(
            "TlsCertificateExpiringCritical",
            `${left} < ${num(t.certificateCriticalDays * day)}`,
            "10m",
            "critical",
            `Certificate ${L("path")} on ${H} expires in {{ $value | humanizeDuration }}`,
            `The certificate ${L("path")} served by ${H} expires in {{ $value | humanizeDuration }} (critical below ${num(t.certificateCriticalDays)} days; negative: expired): renew it now (estate:tlsCertificate).`,
          ),
        ]
      : []),
  ];
}

function cephRules(): AlertRule[] {
  const osdHost =
    `{{ with printf "ceph_osd_metadata{ceph_daemon='%s'}" $labels.ceph_daemon | query }}` +
    ` on {{ . | first | label "hostname" }}{{ end }}`;
  return [
    alert(
      "CephHealthWarning",
      `${sel("ceph_health_status", CEPH)} == 1`,
      "15m",
      "warning",
      "Ceph health is HEALTH_WARN",
      `Ceph has reported HEALTH_WARN for 15 minutes (from the active manager on ${H}): run 'ceph health detail'.`,
    ),
    alert(
      "CephHealthError",
      `${sel("ceph_health_status", CEPH)} == 2`,
      "5m",
      "critical",
      "Ceph health is HEALTH_ERR",
      `Ceph has reported HEALTH_ERR for 5 minutes (from the active manager on ${H}): data may be unavailable; run 'ceph health detail'.`,
    ),
    alert(
      "CephOsdDown",
      `${sel("ceph_osd_up", CEPH)} == 0`,
      "5m",
      "warning",
      `Ceph ${L("ceph_daemon")} is down`,
      `${L("ceph_daemon")}${osdHost} has been down for 5 minutes: its placement groups run degraded.`,
    ),
    alert(
      "CephMetricsMissing",
      `absent(${sel("ceph_health_status", CEPH)})`,
      "5m",
      "critical",
      "No Ceph metrics",
      "No Ceph manager answers with metrics (only the active manager's prometheus module does): every manager is down, or the module is off. Ceph is not watched.",
    ),
  ];
}

function kubernetesRules(input: RulesInput): AlertRule[] {
  const t = input.thresholds;
  const servers = `${HOST}=~${promString(oneOf([...input.k3sServers].sort()))}`;
  const maxAge = input.thresholds.etcdSnapshotMaxAgeSeconds;
  return [
    alert(
      "KubeApiServerErrors",
      `sum by (instance) (rate(apiserver_request_total{code=~"5.."}[5m])) / sum by (instance) (rate(apiserver_request_total[5m])) > ${num(t.apiServerErrorRatio)}`,
      "10m",
      "critical",
      `API server ${L("instance")} answers errors`,
      `The Kubernetes API server ${L("instance")} answered {{ $value | humanizePercentage }} of its requests with 5xx over 5 minutes (threshold ${percent(t.apiServerErrorRatio)}).`,
    ),
    alert(
      "EtcdSnapshotStale",
      `time() - ${sel(ETCD_SNAPSHOT, NODE)} > ${num(maxAge)}`,
      "10m",
      "warning",
      `Last etcd snapshot of ${H} is {{ $value | humanizeDuration }} old`,
      `The newest local etcd snapshot of K3s server ${H} is {{ $value | humanizeDuration }} old (at most ${duration(maxAge)}): the snapshot schedule stopped.`,
    ),
    alert(
      "EtcdSnapshotMissing",
      `${sel("up", NODE, servers)} == 1 unless on (${HOST}) ${sel(ETCD_SNAPSHOT, NODE)}`,
      duration(maxAge),
      "warning",
      `K3s server ${H} reports no etcd snapshot`,
      `K3s server ${H} is up but has reported no etcd snapshot for ${duration(maxAge)}: no snapshot was taken, or the timer that writes ${ETCD_SNAPSHOT} fails.`,
    ),
  ];
}

function meshRules(input: RulesInput): AlertRule[] {
  const t = input.thresholds;
  const reqs = (extra = ""): string =>
    `sum by (destination_service) (rate(istio_requests_total{reporter="destination"${extra}}[5m]))`;
  const busy = `${reqs()} > ${num(t.istioMinRequestRate)}`;
  return [
    alert(
      "IstioServiceErrors",
      `(${reqs(',response_code=~"5.."')} / ${reqs()} > ${num(t.istioErrorRatio)}) and ${busy}`,
      "5m",
      "warning",
      `Service ${L("destination_service")} answers {{ $value | humanizePercentage }} 5xx`,
      `${L("destination_service")} answered {{ $value | humanizePercentage }} of its requests with 5xx over 5 minutes (threshold ${percent(t.istioErrorRatio)}, as its sidecars report).`,
    ),
    alert(
      "IstioServiceLatency",
      `(histogram_quantile(0.99, sum by (destination_service, le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[5m]))) > ${num(t.istioP99LatencyMs)}) and ${busy}`,
      "10m",
      "warning",
      `Service ${L("destination_service")} p99 latency {{ $value | humanize }} ms`,
      `The 99th percentile of ${L("destination_service")}'s request duration is {{ $value | humanize }} ms over 5 minutes (threshold ${num(t.istioP99LatencyMs)} ms, as its sidecars report).`,
    ),
  ];
}

/** Seconds as a Prometheus duration (`13h`, `90m`, `45s`). */
export function duration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${Math.ceil(seconds)}s`;
}

/** The estate's rule groups (a plain Prometheus rule file's `groups`), parts absent from the estate left out. */
export function ruleGroups(input: RulesInput): RuleGroup[] {
  const t = input.thresholds;
  if (t.certificateCriticalDays >= t.certificateWarningDays)
    throw new Error(
      `certificateCriticalDays ${t.certificateCriticalDays} must be below certificateWarningDays ${t.certificateWarningDays}`,
    );
  const groups: RuleGroup[] = [
    { name: "estate-nodes", rules: nodeRules(input) },
    { name: "estate-fabric", rules: fabricRules() },
    { name: "estate-frontend", rules: frontendRules(input) },
    { name: "estate-ceph", rules: input.targets.some((x) => x.job === CEPH) ? cephRules() : [] },
    { name: "estate-kubernetes", rules: input.k3sServers.length ? kubernetesRules(input) : [] },
    { name: "estate-mesh", rules: input.mesh ? meshRules(input) : [] },
  ];
  return groups.filter((g) => g.rules.length > 0);
}

/** One PrometheusRule per rule group, labelled so that the estate's Prometheus selects it. */
export function prometheusRules(input: RulesInput): PrometheusRuleObject[] {
  return ruleGroups(input).map((g) => ({
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: {
      name: g.name,
      namespace: MONITORING_NAMESPACE,
      labels: { [SELECTOR_LABEL.key]: SELECTOR_LABEL.value },
    },
    spec: { groups: [g] },
  }));
}

/** Every alert name of `groups`. */
export function alertNames(groups: readonly RuleGroup[]): string[] {
  return groups.flatMap((g) => g.rules.map((r) => r.alert));
}
