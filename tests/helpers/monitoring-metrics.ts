/**
 * What the monitoring rule and dashboard tests share: the alert thresholds they render
 * with, the metric names each planned exporter exposes (the node exporter from a real run
 * with its planned collectors, the others as measured), and the allow-list of names no
 * estate exporter exposes.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TEXTFILE_METRICS } from "../../components/monitoring/conventions";
import type { AlertThresholds } from "../../components/monitoring/rules";
import { nodeExporterService } from "../../components/node/render";
import * as exporters from "./exporters";
import { requireTool } from "./tools";

/** The thresholds the rule and dashboard tests render with (the expected texts quote them). */
export const THRESHOLDS: AlertThresholds = {
  cpuBusyRatio: 0.8,
  memoryAvailableRatio: 0.1,
  memoryStallRatio: 0.1,
  filesystemFreeRatio: 0.1,
  filesystemFillHours: 24,
  clockOffsetSeconds: 0.05,
  certificateWarningDays: 21,
  certificateCriticalDays: 7,
  apiServerErrorRatio: 0.05,
  istioErrorRatio: 0.05,
  istioP99LatencyMs: 1000,
  istioMinRequestRate: 0.2,
  etcdSnapshotMaxAgeSeconds: 13 * 3600,
};

/** Metric names the FRR exporter 1.1.4 exposes (measured: shared/notes/monitoring-lab.md). */
export const FRR_METRICS = [
  "frr_bfd_peer_count",
  "frr_bfd_peer_state",
  "frr_bfd_peer_uptime",
  "frr_bgp_peer_groups_count_total",
  "frr_bgp_peer_groups_memory_bytes",
  "frr_bgp_peer_message_received_total",
  "frr_bgp_peer_message_sent_total",
  "frr_bgp_peer_prefixes_advertised_count_total",
  "frr_bgp_peer_prefixes_received_count_total",
  "frr_bgp_peer_state",
  "frr_bgp_peer_uptime_seconds",
  "frr_bgp_peers_count_total",
  "frr_bgp_peers_memory_bytes",
  "frr_bgp_rib_count_total",
  "frr_bgp_rib_memory_bytes",
  "frr_collector_up",
];
/** The Nginx exporter 0.11 (measured: shared/notes/monitoring-lab.md). */
export const NGINX_METRICS = [
  "nginx_up",
  "nginx_connections_accepted",
  "nginx_connections_active",
  "nginx_connections_handled",
  "nginx_connections_reading",
  "nginx_connections_waiting",
  "nginx_connections_writing",
  "nginx_http_requests_total",
];
/**
 * The Ceph manager's prometheus module (Ceph 16 `mgr/prometheus/module.py`: health_status,
 * mon_quorum_status, osd_metadata, pool_metadata, OSD_STATUS up/in, DF_CLUSTER, DF_POOL).
 */
export const CEPH_METRICS = [
  "ceph_health_status",
  "ceph_mon_quorum_status",
  "ceph_osd_metadata",
  "ceph_osd_up",
  "ceph_osd_in",
  "ceph_pool_metadata",
  "ceph_cluster_total_bytes",
  "ceph_cluster_total_used_bytes",
  "ceph_pool_stored",
  "ceph_pool_rd",
  "ceph_pool_wr",
];
/** Names no exporter of the estate exposes, each with the reason it is fine. */
export const ALLOWED_METRICS: readonly [RegExp, string][] = [
  [/^istio_/, "Istio's sidecars (a PodMonitor in the cluster; no lab runs a mesh)"],
  [/^apiserver_/, "the Kubernetes API server (the chart's own ServiceMonitor; no lab runs K3s)"],
  [/^up$/, "Prometheus' own per-target series"],
  [/^ALERTS$/, "Prometheus' own series of pending and firing alerts"],
];

/** Every metric name the node exporter exposes with its planned collectors, from a real run. */
export async function nodeExporterMetrics(): Promise<Set<string>> {
  requireTool("prometheus-node-exporter", "prometheus-node-exporter");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "estate-textfile-"));
  const port = await exporters.freePort();
  const planned = ["prometheus-node-exporter", ...nodeExporterService("127.0.0.1").args].map((a) =>
    a.startsWith("--collector.textfile.directory=") ? `--collector.textfile.directory=${dir}` : a,
  );
  const { argv } = exporters.listenOn(planned, "--web.listen-address", port);
  const run = exporters.start(argv);
  try {
    return exporters.metricNames(await exporters.scrape(`http://127.0.0.1:${port}/metrics`, 10000, run));
  } finally {
    run.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Names in `used` that no exporter exposes and the allow-list does not excuse. */
export function unexplained(used: Iterable<string>, node: Set<string>): string[] {
  const known = new Set([
    ...node,
    ...FRR_METRICS,
    ...NGINX_METRICS,
    ...CEPH_METRICS,
    ...Object.values(TEXTFILE_METRICS).map((m) => m.name),
  ]);
  return [...new Set(used)].filter((m) => !known.has(m) && !ALLOWED_METRICS.some(([re]) => re.test(m))).sort();
}
