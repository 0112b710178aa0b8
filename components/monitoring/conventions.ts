/**
 * Where the estate's monitoring parts meet: the ports and job names of the exporters the
 * hosts run, the labels every target outside the cluster carries, the metrics the estate
 * writes itself into the node exporter's textfile collector, and the labels Prometheus
 * selects the estate's rules, scrape configs and monitors by.
 *
 * The host roles (node, fabric, frontend, ceph, kubernetes components) install and
 * configure the exporters with these values; the Monitoring component derives its
 * ScrapeConfigs from them; the alert rules and dashboards query the names; the monitoring
 * lab runs the same exporters on the same ports. One place, so the four cannot drift.
 * Pure data: no Pulumi, no config.
 */

/** The exporters of hosts outside the cluster, by scrape job. */
export const EXPORTERS = {
  /** Every server and every switch: `prometheus-node-exporter` (Debian). */
  node: { job: "node", port: 9100, package: "prometheus-node-exporter" },
  /** Every server and switch that runs FRR (BGP sessions, BFD peers): `prometheus-frr-exporter`. */
  frr: { job: "frr", port: 9342, package: "prometheus-frr-exporter" },
  /** Every balancer, from Nginx's local `stub_status`: `prometheus-nginx-exporter`. */
  nginx: { job: "nginx", port: 9113, package: "prometheus-nginx-exporter" },
  /** Every Ceph manager host: the manager's `prometheus` module (only the active one answers with data). */
  ceph: { job: "ceph", port: 9283, package: "ceph-mgr" },
} as const;

export type ExporterJob = (typeof EXPORTERS)[keyof typeof EXPORTERS]["job"];

/**
 * Labels on every target outside the cluster, set by the ScrapeConfigs from the model
 * (the exporters do not know them). `instance` stays `<address>:<port>`.
 */
export const TARGET_LABELS = {
  /** The host or switch name of the inventory. */
  host: "host",
  /** `server`, `spine` or `leaf`. */
  tier: "tier",
  /** The rack (servers and leaves; spines have none). */
  rack: "rack",
} as const;

/**
 * Exporters listen on the host's loopback /32: the address the fabric announces, which
 * Prometheus' pods reach through their node (Calico SNATs pod traffic leaving the pod
 * CIDR to the node's own address, which is also a loopback).
 */
export const EXPORTER_LISTEN = "loopback" as const;

/** The node exporter's textfile collector directory (Debian's default for the package). */
export const TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";

/**
 * Metrics the estate writes into `TEXTFILE_DIR` (atomically: a temporary file, then
 * `mv`). Label names avoid `instance` and `job`, which Prometheus owns (a textfile
 * `instance` label would be renamed `exported_instance`).
 */
export const TEXTFILE_METRICS = {
  /**
   * Written by keepalived's notify script on every transition, and once at start:
   * `estate_vrrp_state{vrrp_instance="<name>"} <n>`, with 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT.
   */
  vrrpState: { name: "estate_vrrp_state", file: "estate_vrrp.prom", labels: ["vrrp_instance"] },
  /** Same file: `estate_vrrp_last_transition_timestamp_seconds{vrrp_instance}` (Unix time). */
  vrrpLastTransition: {
    name: "estate_vrrp_last_transition_timestamp_seconds",
    file: "estate_vrrp.prom",
    labels: ["vrrp_instance"],
  },
  /** Balancers: the served certificate's notAfter (Unix time), written when it is installed. */
  tlsNotAfter: {
    name: "estate_tls_certificate_not_after_timestamp_seconds",
    file: "estate_tls.prom",
    labels: ["path"],
  },
  /** K3s servers: the newest local etcd snapshot's time (Unix time), refreshed by a timer. */
  etcdSnapshot: {
    name: "estate_etcd_snapshot_last_timestamp_seconds",
    file: "estate_etcd_snapshot.prom",
    labels: [],
  },
} as const;

/** VRRP states as `estate_vrrp_state` writes them. */
export const VRRP_STATES = { INIT: 0, BACKUP: 1, MASTER: 2, FAULT: 3 } as const;

/** Where the monitoring stack runs (the application namespaces' policy admits its Prometheus). */
export const MONITORING_NAMESPACE = "monitoring";
/** The kube-prometheus-stack Release's name. */
export const MONITORING_RELEASE = "kube-prometheus-stack";

/**
 * The label Prometheus selects the estate's PrometheusRules, ScrapeConfigs, ServiceMonitors
 * and PodMonitors by (the chart's `*SelectorNilUsesHelmValues` are off and the selectors
 * set to this). Every such object the estate creates carries it; the chart's own default
 * rules and monitors get it through their additional-labels values.
 */
export const SELECTOR_LABEL = { key: "estate.internal/monitoring", value: "estate" } as const;

/** The Grafana sidecar's label for dashboard ConfigMaps (the chart's default). */
export const DASHBOARD_LABEL = { key: "grafana_dashboard", value: "1" } as const;

/** Severities the alert rules use, and Alertmanager routes on. */
export const SEVERITIES = ["warning", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];
