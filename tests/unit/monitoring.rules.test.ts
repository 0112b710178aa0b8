/**
 * The estate's alert rules (components/monitoring/rules.ts), checked by the program that
 * consumes them: every group passes `promtool check rules`; every alert has `promtool test
 * rules` cases whose input series make it FIRE (full labels and rendered annotations) and
 * a near-miss that keeps it QUIET; a rule without both fails the suite; a broken
 * expression or expectation is shown to fail; the PrometheusRule objects validate against
 * the pinned CRD with unknown fields rejected; every metric an expression selects is one a
 * planned exporter exposes (the node exporter runs for real with its planned collectors).
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import {
  EXPORTERS,
  MONITORING_NAMESPACE,
  SELECTOR_LABEL,
  SEVERITIES,
  TARGET_LABELS,
  TEXTFILE_METRICS,
} from "../../components/monitoring/conventions";
import { metricNames } from "../../components/monitoring/dashboards";
import {
  alertNames,
  prometheusRules,
  ruleGroups,
  type RuleGroup,
  type RulesInput,
} from "../../components/monitoring/rules";
import { cronMaxGapSeconds, rulesInputFor } from "../../components/monitoring/rules-input";
import { estateOf } from "../helpers/config";
import { ALLOWED_METRICS, nodeExporterMetrics, THRESHOLDS, unexplained } from "../helpers/monitoring-metrics";
import { crdValidator, loadAllRef } from "../helpers/reference";
import { requireTool } from "../helpers/tools";

// ---- the fixture estate -----------------------------------------------------------------------

const HOST = TARGET_LABELS.host;
const HOSTS: Record<string, { address: string; rack: string }> = {
  "srv-1": { address: "10.0.0.11", rack: "r1" },
  "lb-1": { address: "10.0.0.21", rack: "r1" },
  "lb-2": { address: "10.0.0.22", rack: "r2" },
  "ctl-1": { address: "10.0.0.31", rack: "r1" },
  "mgr-1": { address: "10.0.0.41", rack: "r2" },
};
const VRRP = "frontend_51";

export const FIXTURE: RulesInput = {
  thresholds: THRESHOLDS,
  targets: [
    ...Object.keys(HOSTS).flatMap((host) => [
      { job: EXPORTERS.node.job, host },
      { job: EXPORTERS.frr.job, host },
    ]),
    { job: EXPORTERS.nginx.job, host: "lb-1" },
    { job: EXPORTERS.nginx.job, host: "lb-2" },
    { job: EXPORTERS.ceph.job, host: "mgr-1" },
  ],
  vrrpInstances: [VRRP],
  tlsHosts: ["lb-1", "lb-2"],
  k3sServers: ["ctl-1"],
  mesh: true,
};

type Labels = Record<string, string>;

/** The labels Prometheus gives a series of `job` on `host` (the ScrapeConfigs' target labels). */
function target(job: keyof typeof EXPORTERS, host: string, extra: Labels = {}): Labels {
  const h = HOSTS[host];
  return {
    job: EXPORTERS[job].job,
    instance: `${h.address}:${EXPORTERS[job].port}`,
    [HOST]: host,
    [TARGET_LABELS.tier]: "server",
    [TARGET_LABELS.rack]: h.rack,
    ...extra,
  };
}
const series = (metric: string, labels: Labels): string =>
  `${metric}{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",")}}`;

// ---- promtool cases ---------------------------------------------------------------------------

interface Expected {
  labels: Labels;
  summary: string;
  description: string;
}
interface Case {
  name: string;
  alert: string;
  interval?: string;
  input: [series: string, values: string][];
  at: string;
  /** Empty: the alert must stay quiet at `at`. */
  expect: Expected[];
}

const node = (host: string, extra: Labels = {}): Labels => target("node", host, extra);
const sev = (labels: Labels, severity: (typeof SEVERITIES)[number]): Labels => ({ ...labels, severity });
const VRRP_STATE = TEXTFILE_METRICS.vrrpState.name;
const VRRP_LAST = TEXTFILE_METRICS.vrrpLastTransition.name;
const TLS = TEXTFILE_METRICS.tlsNotAfter.name;
const ETCD = TEXTFILE_METRICS.etcdSnapshot.name;
const CERT = { path: "/etc/nginx/estate/fullchain.pem" };
const ROOT_FS = { device: "/dev/nvme0n1p2", fstype: "ext4", mountpoint: "/" };
const BGP = { afi: "ipv4", local_as: "65101", peer: "swp1", peer_as: "65001", safi: "unicast", vrf: "default" };
const BFD = { local: "fe80::1", peer: "fe80::2" };
const SVC = { destination_service: "api.apps.svc.cluster.local" };
const vrrp = (host: string): Labels => node(host, { vrrp_instance: VRRP });
const istio = (extra: Labels): Labels => ({ reporter: "destination", ...SVC, ...extra });
const upAll = (except?: { job: string; host: string }): [string, string][] =>
  FIXTURE.targets
    .filter((t) => !(except && t.job === except.job && t.host === except.host))
    .map((t) => [series("up", target(t.job as keyof typeof EXPORTERS, t.host)), "1x20"]);

export const CASES: Case[] = [
  // estate-nodes
  {
    name: "node exporter down 3 minutes",
    alert: "HostDown",
    input: [[series("up", node("srv-1")), "1 1 0x5"]],
    at: "5m",
    expect: [
      {
        labels: sev(node("srv-1"), "critical"),
        summary: "Host srv-1 is down",
        description:
          "The node exporter of srv-1 (10.0.0.11:9100) has not answered Prometheus for 2 minutes: the host is down or unreachable.",
      },
    ],
  },
  {
    name: "node exporter down 1 minute",
    alert: "HostDown",
    input: [[series("up", node("srv-1")), "1 1 1 1 0 0"]],
    at: "5m",
    expect: [],
  },
  {
    name: "the frr target of srv-1 is gone",
    alert: "ScrapeTargetMissing",
    input: upAll({ job: "frr", host: "srv-1" }),
    at: "15m",
    expect: [
      {
        labels: { job: "frr", [HOST]: "srv-1", severity: "warning" },
        summary: "Prometheus has no frr target for srv-1",
        description:
          "The model expects the frr exporter of srv-1 to be scraped, but Prometheus has no such target: its ScrapeConfig was not picked up or lost the host.",
      },
    ],
  },
  { name: "every expected target present", alert: "ScrapeTargetMissing", input: upAll(), at: "15m", expect: [] },
  {
    name: "85% of all cores busy",
    alert: "HostHighCpu",
    input: [
      [series("node_cpu_seconds_total", node("srv-1", { cpu: "0", mode: "idle" })), "0+9x20"],
      [series("node_cpu_seconds_total", node("srv-1", { cpu: "1", mode: "idle" })), "0+9x20"],
      [series("node_cpu_seconds_total", node("srv-1", { cpu: "0", mode: "user" })), "0+51x20"],
    ],
    at: "15m",
    expect: [
      {
        labels: sev(node("srv-1"), "warning"),
        summary: "Host srv-1 CPU above 80%",
        description: "srv-1 has kept 85% of all its cores busy for 5 minutes (threshold 80%).",
      },
    ],
  },
  {
    // One core at 100% and one idle is 50% of the host: the seed's rate-of-seconds rule fired here.
    name: "one core of two saturated, the other idle (50%)",
    alert: "HostHighCpu",
    input: [
      [series("node_cpu_seconds_total", node("srv-1", { cpu: "0", mode: "idle" })), "0+0x20"],
      [series("node_cpu_seconds_total", node("srv-1", { cpu: "1", mode: "idle" })), "0+60x20"],
    ],
    at: "15m",
    expect: [],
  },
  {
    name: "79% of all cores busy",
    alert: "HostHighCpu",
    input: [[series("node_cpu_seconds_total", node("srv-1", { cpu: "0", mode: "idle" })), "0+12.6x20"]],
    at: "15m",
    expect: [],
  },
  {
    name: "8% memory available",
    alert: "HostMemoryLow",
    input: [
      [series("node_memory_MemAvailable_bytes", node("srv-1")), "8000000000x20"],
      [series("node_memory_MemTotal_bytes", node("srv-1")), "100000000000x20"],
    ],
    at: "15m",
    expect: [
      {
        labels: sev(node("srv-1"), "warning"),
        summary: "Host srv-1 is low on memory",
        description: "srv-1 has only 8% of its memory available (threshold 10%).",
      },
    ],
  },
  {
    name: "11% memory available",
    alert: "HostMemoryLow",
    input: [
      [series("node_memory_MemAvailable_bytes", node("srv-1")), "11000000000x20"],
      [series("node_memory_MemTotal_bytes", node("srv-1")), "100000000000x20"],
    ],
    at: "15m",
    expect: [],
  },
  {
    name: "every task stalled 20% of the time",
    alert: "HostMemoryStalled",
    input: [[series("node_pressure_memory_stalled_seconds_total", node("srv-1")), "0+12x30"]],
    at: "20m",
    expect: [
      {
        labels: sev(node("srv-1"), "warning"),
        summary: "Host srv-1 stalls on memory",
        description:
          'Every task of srv-1 waited for memory 20% of the time over 5 minutes (pressure stall "full", threshold 10%).',
      },
    ],
  },
  {
    name: "stalled 5% of the time",
    alert: "HostMemoryStalled",
    input: [[series("node_pressure_memory_stalled_seconds_total", node("srv-1")), "0+3x30"]],
    at: "20m",
    expect: [],
  },
  {
    name: "root filesystem 5% free",
    alert: "HostFilesystemAlmostFull",
    input: [
      [series("node_filesystem_avail_bytes", node("srv-1", ROOT_FS)), "5000000000x20"],
      [series("node_filesystem_size_bytes", node("srv-1", ROOT_FS)), "100000000000x20"],
      [series("node_filesystem_readonly", node("srv-1", ROOT_FS)), "0x20"],
    ],
    at: "20m",
    expect: [
      {
        labels: sev(node("srv-1", ROOT_FS), "critical"),
        summary: "Filesystem / on srv-1 is almost full",
        description: "/ (/dev/nvme0n1p2) on srv-1 has 5% free (threshold 10%).",
      },
    ],
  },
  {
    name: "root 12% free, a tmpfs 1% free",
    alert: "HostFilesystemAlmostFull",
    input: [
      [series("node_filesystem_avail_bytes", node("srv-1", ROOT_FS)), "12000000000x20"],
      [series("node_filesystem_size_bytes", node("srv-1", ROOT_FS)), "100000000000x20"],
      [series("node_filesystem_readonly", node("srv-1", ROOT_FS)), "0x20"],
      [
        series("node_filesystem_avail_bytes", node("srv-1", { device: "tmpfs", fstype: "tmpfs", mountpoint: "/run" })),
        "1000000x20",
      ],
      [
        series("node_filesystem_size_bytes", node("srv-1", { device: "tmpfs", fstype: "tmpfs", mountpoint: "/run" })),
        "100000000x20",
      ],
      [
        series("node_filesystem_readonly", node("srv-1", { device: "tmpfs", fstype: "tmpfs", mountpoint: "/run" })),
        "0x20",
      ],
    ],
    at: "20m",
    expect: [],
  },
  {
    name: "root loses 100 MB a minute from 30 GB",
    alert: "HostFilesystemFillingUp",
    input: [
      [series("node_filesystem_avail_bytes", node("srv-1", ROOT_FS)), "30000000000-100000000x120"],
      [series("node_filesystem_size_bytes", node("srv-1", ROOT_FS)), "100000000000x120"],
      [series("node_filesystem_readonly", node("srv-1", ROOT_FS)), "0x120"],
    ],
    at: "90m",
    expect: [
      {
        labels: sev(node("srv-1", ROOT_FS), "warning"),
        summary: "Filesystem / on srv-1 fills up within 24 hours",
        description:
          "At the rate of the last 6 hours, / (/dev/nvme0n1p2) on srv-1 is full within 24 hours; it has less than 40% free.",
      },
    ],
  },
  {
    name: "root loses 10 MB a minute from 30 GB (full in 50 hours)",
    alert: "HostFilesystemFillingUp",
    input: [
      [series("node_filesystem_avail_bytes", node("srv-1", ROOT_FS)), "30000000000-10000000x120"],
      [series("node_filesystem_size_bytes", node("srv-1", ROOT_FS)), "100000000000x120"],
      [series("node_filesystem_readonly", node("srv-1", ROOT_FS)), "0x120"],
    ],
    at: "90m",
    expect: [],
  },
  {
    name: "clock unsynchronised 20 minutes",
    alert: "HostClockNotSynchronised",
    input: [[series("node_timex_sync_status", node("srv-1")), "0x20"]],
    at: "20m",
    expect: [
      {
        labels: sev(node("srv-1"), "warning"),
        summary: "Clock of srv-1 is not synchronised",
        description:
          "The kernel reports the clock of srv-1 unsynchronised for 15 minutes: check chrony and its time sources.",
      },
    ],
  },
  {
    name: "clock unsynchronised 8 minutes after boot, then synchronised",
    alert: "HostClockNotSynchronised",
    input: [[series("node_timex_sync_status", node("srv-1")), "0x8 1x12"]],
    at: "14m",
    expect: [],
  },
  {
    name: "clock 100 ms off",
    alert: "HostClockSkew",
    input: [[series("node_timex_offset_seconds", node("srv-1")), "-0.1x20"]],
    at: "15m",
    expect: [
      {
        labels: sev(node("srv-1"), "warning"),
        summary: "Clock of srv-1 is off by 100ms",
        description:
          "The clock of srv-1 is 100ms away from its time source (threshold 0.05 s); Ceph monitors and etcd need close clocks.",
      },
    ],
  },
  {
    name: "clock 40 ms off",
    alert: "HostClockSkew",
    input: [[series("node_timex_offset_seconds", node("srv-1")), "0.04x20"]],
    at: "15m",
    expect: [],
  },
  // estate-fabric
  {
    name: "BGP session down 3 minutes",
    alert: "BgpSessionDown",
    input: [[series("frr_bgp_peer_state", target("frr", "srv-1", BGP)), "1 1 0x5"]],
    at: "5m",
    expect: [
      {
        labels: sev(target("frr", "srv-1", BGP), "critical"),
        summary: "BGP session srv-1 → swp1 is down",
        description:
          "The BGP session of srv-1 (AS 65101) to swp1 (AS 65001, VRF default, ipv4 unicast) is not established: state 0 (0 down, 2 administratively down). Its path through the fabric is lost.",
      },
    ],
  },
  {
    name: "BGP session down for one evaluation",
    alert: "BgpSessionDown",
    input: [[series("frr_bgp_peer_state", target("frr", "srv-1", BGP)), "1 1 1 1 1 0"]],
    at: "5m",
    expect: [],
  },
  {
    name: "BFD peer down 3 minutes",
    alert: "BfdPeerDown",
    input: [[series("frr_bfd_peer_state", target("frr", "srv-1", BFD)), "1 1 0x5"]],
    at: "5m",
    expect: [
      {
        labels: sev(target("frr", "srv-1", BFD), "warning"),
        summary: "BFD peer fe80::2 of srv-1 is down",
        description:
          "BFD on srv-1 (local fe80::1) reports peer fe80::2 down: the link or the peer's forwarding failed.",
      },
    ],
  },
  {
    name: "BFD peer up",
    alert: "BfdPeerDown",
    input: [[series("frr_bfd_peer_state", target("frr", "srv-1", BFD)), "1x5"]],
    at: "5m",
    expect: [],
  },
  {
    name: "the BFD collector fails (pitfall 1)",
    alert: "FrrCollectorFailed",
    input: [
      [series("frr_collector_up", target("frr", "srv-1", { collector: "bfd" })), "0x10"],
      [series("frr_collector_up", target("frr", "srv-1", { collector: "bgp" })), "1x10"],
    ],
    at: "10m",
    expect: [
      {
        labels: sev(target("frr", "srv-1", { collector: "bfd" }), "warning"),
        summary: "FRR exporter's bfd collector fails on srv-1",
        description:
          "The FRR exporter on srv-1 cannot read bfd from FRR, so its bfd sessions are not watched (no series: the session alerts cannot fire). Check the exporter's vtysh options.",
      },
    ],
  },
  {
    name: "every collector works",
    alert: "FrrCollectorFailed",
    input: [[series("frr_collector_up", target("frr", "srv-1", { collector: "bfd" })), "1x10"]],
    at: "10m",
    expect: [],
  },
  {
    name: "FRR exporter down, host up",
    alert: "FrrExporterDown",
    input: [
      [series("up", target("frr", "srv-1")), "0x10"],
      [series("up", node("srv-1")), "1x10"],
    ],
    at: "10m",
    expect: [
      {
        labels: sev(target("frr", "srv-1"), "warning"),
        summary: "FRR exporter on srv-1 is down",
        description:
          "The FRR exporter of srv-1 (10.0.0.11:9342) does not answer while the host is up: its BGP sessions and BFD peers are not watched.",
      },
    ],
  },
  {
    name: "FRR exporter down with its host (HostDown says it)",
    alert: "FrrExporterDown",
    input: [
      [series("up", target("frr", "srv-1")), "0x10"],
      [series("up", node("srv-1")), "0x10"],
    ],
    at: "10m",
    expect: [],
  },
  // estate-frontend
  {
    name: "Nginx stopped on lb-1",
    alert: "NginxDown",
    input: [[series("nginx_up", target("nginx", "lb-1")), "1 1 0x5"]],
    at: "5m",
    expect: [
      {
        labels: sev(target("nginx", "lb-1"), "critical"),
        summary: "Nginx is down on balancer lb-1",
        description:
          "The Nginx exporter of lb-1 cannot read Nginx's stub_status: Nginx is stopped or stuck; keepalived's check moves the VIP away from it.",
      },
    ],
  },
  {
    name: "Nginx up",
    alert: "NginxDown",
    input: [[series("nginx_up", target("nginx", "lb-1")), "1x5"]],
    at: "5m",
    expect: [],
  },
  {
    name: "Nginx exporter down, host up",
    alert: "NginxExporterDown",
    input: [
      [series("up", target("nginx", "lb-2")), "0x10"],
      [series("up", node("lb-2")), "1x10"],
    ],
    at: "10m",
    expect: [
      {
        labels: sev(target("nginx", "lb-2"), "warning"),
        summary: "Nginx exporter on lb-2 is down",
        description:
          "The Nginx exporter of lb-2 (10.0.0.22:9113) does not answer while the host is up: Nginx on lb-2 is not watched.",
      },
    ],
  },
  {
    name: "Nginx exporter down with its host",
    alert: "NginxExporterDown",
    input: [
      [series("up", target("nginx", "lb-2")), "0x10"],
      [series("up", node("lb-2")), "0x10"],
    ],
    at: "10m",
    expect: [],
  },
  {
    name: "lb-2 became MASTER 2 minutes ago",
    alert: "VrrpTransition",
    input: [
      [series(VRRP_STATE, vrrp("lb-2")), "1 1 1 2 2 2"],
      [series(VRRP_LAST, vrrp("lb-2")), "100 100 100 280 280 280"],
    ],
    at: "5m",
    expect: [
      {
        labels: sev(vrrp("lb-2"), "warning"),
        summary: "VRRP frontend_51 changed state on lb-2",
        description:
          "lb-2 changed its VRRP state of frontend_51 in the last 10 minutes: the VIP moved (a balancer or its Nginx failed, or came back).",
      },
    ],
  },
  {
    name: "a flap between two scrapes (state back as before, timestamp moved)",
    alert: "VrrpTransition",
    input: [
      [series(VRRP_STATE, vrrp("lb-2")), "2x5"],
      [series(VRRP_LAST, vrrp("lb-2")), "100 100 100 290 290 290"],
    ],
    at: "5m",
    expect: [
      {
        labels: sev(vrrp("lb-2"), "warning"),
        summary: "VRRP frontend_51 changed state on lb-2",
        description:
          "lb-2 changed its VRRP state of frontend_51 in the last 10 minutes: the VIP moved (a balancer or its Nginx failed, or came back).",
      },
    ],
  },
  {
    name: "the last transition 12 minutes ago",
    alert: "VrrpTransition",
    input: [
      [series(VRRP_STATE, vrrp("lb-2")), "1 1 2x12"],
      [series(VRRP_LAST, vrrp("lb-2")), "100 100 120x12"],
    ],
    at: "14m",
    expect: [],
  },
  {
    name: "lb-1 BACKUP and lb-2 FAULT",
    alert: "VrrpNoMaster",
    input: [
      [series(VRRP_STATE, vrrp("lb-1")), "1x5"],
      [series(VRRP_STATE, vrrp("lb-2")), "3x5"],
    ],
    at: "5m",
    expect: [
      {
        labels: { vrrp_instance: VRRP, severity: "critical" },
        summary: "No balancer is VRRP master of frontend_51",
        description:
          "No balancer reports MASTER for frontend_51 (or none reports the instance at all): nobody holds the VIP, the front tier is unreachable.",
      },
    ],
  },
  {
    name: "no balancer reports the instance",
    alert: "VrrpNoMaster",
    input: [[series("up", node("lb-1")), "0x5"]],
    at: "5m",
    expect: [
      {
        labels: { vrrp_instance: VRRP, severity: "critical" },
        summary: "No balancer is VRRP master of frontend_51",
        description:
          "No balancer reports MASTER for frontend_51 (or none reports the instance at all): nobody holds the VIP, the front tier is unreachable.",
      },
    ],
  },
  {
    name: "lb-1 MASTER, lb-2 BACKUP",
    alert: "VrrpNoMaster",
    input: [
      [series(VRRP_STATE, vrrp("lb-1")), "2x5"],
      [series(VRRP_STATE, vrrp("lb-2")), "1x5"],
    ],
    at: "5m",
    expect: [],
  },
  {
    name: "both balancers MASTER",
    alert: "VrrpSplitBrain",
    input: [
      [series(VRRP_STATE, vrrp("lb-1")), "2x5"],
      [series(VRRP_STATE, vrrp("lb-2")), "2x5"],
    ],
    at: "5m",
    expect: [
      {
        labels: { vrrp_instance: VRRP, severity: "critical" },
        summary: "Two VRRP masters of frontend_51",
        description:
          "2 balancers report MASTER for frontend_51 at once (split brain): VRRP adverts between the balancers are lost and both answer on the VIP.",
      },
    ],
  },
  {
    name: "one MASTER",
    alert: "VrrpSplitBrain",
    input: [
      [series(VRRP_STATE, vrrp("lb-1")), "2x5"],
      [series(VRRP_STATE, vrrp("lb-2")), "1x5"],
    ],
    at: "5m",
    expect: [],
  },
  {
    name: "lb-2 in FAULT",
    alert: "VrrpFault",
    input: [[series(VRRP_STATE, vrrp("lb-2")), "1 1 3x5"]],
    at: "5m",
    expect: [
      {
        labels: sev(vrrp("lb-2"), "warning"),
        summary: "Balancer lb-2 is in VRRP FAULT for frontend_51",
        description:
          "keepalived on lb-2 put frontend_51 in FAULT (its Nginx check or interface failed): it cannot take the VIP.",
      },
    ],
  },
  { name: "lb-2 BACKUP", alert: "VrrpFault", input: [[series(VRRP_STATE, vrrp("lb-2")), "1x5"]], at: "5m", expect: [] },
  {
    name: "certificate expires in 10 days",
    alert: "TlsCertificateExpiring",
    input: [[series(TLS, node("lb-1", CERT)), "864000x20"]],
    at: "15m",
    expect: [
      {
        labels: sev(node("lb-1", CERT), "warning"),
        summary: "Certificate /etc/nginx/estate/fullchain.pem on lb-1 expires in 9d 23h 45m 0s",
        description:
          "The certificate /etc/nginx/estate/fullchain.pem served by lb-1 expires in 9d 23h 45m 0s (warning below 21 days): renew it (estate:tlsCertificate).",
      },
    ],
  },
  {
    name: "certificate expires in 30 days",
    alert: "TlsCertificateExpiring",
    input: [[series(TLS, node("lb-1", CERT)), "2592000x20"]],
    at: "15m",
    expect: [],
  },
  {
    name: "certificate expires in 3 days (the critical alert's, not the warning's)",
    alert: "TlsCertificateExpiring",
    input: [[series(TLS, node("lb-1", CERT)), "259200x20"]],
    at: "15m",
    expect: [],
  },
  {
    name: "certificate expires in 3 days",
    alert: "TlsCertificateExpiringCritical",
    input: [[series(TLS, node("lb-1", CERT)), "259200x20"]],
    at: "15m",
    expect: [
      {
        labels: sev(node("lb-1", CERT), "critical"),
        summary: "Certificate /etc/nginx/estate/fullchain.pem on lb-1 expires in 2d 23h 45m 0s",
        description:
          "The certificate /etc/nginx/estate/fullchain.pem served by lb-1 expires in 2d 23h 45m 0s (critical below 7 days; negative: expired): renew it now (estate:tlsCertificate).",
      },
    ],
  },
  {
    name: "certificate expires in 10 days",
    alert: "TlsCertificateExpiringCritical",
    input: [[series(TLS, node("lb-1", CERT)), "864000x20"]],
    at: "15m",
    expect: [],
  },
  // estate-ceph
  {
    name: "HEALTH_WARN for 20 minutes",
    alert: "CephHealthWarning",
    input: [[series("ceph_health_status", target("ceph", "mgr-1")), "1x20"]],
    at: "20m",
    expect: [
      {
        labels: sev(target("ceph", "mgr-1"), "warning"),
        summary: "Ceph health is HEALTH_WARN",
        description:
          "Ceph has reported HEALTH_WARN for 15 minutes (from the active manager on mgr-1): run 'ceph health detail'.",
      },
    ],
  },
  {
    name: "HEALTH_WARN for 9 minutes",
    alert: "CephHealthWarning",
    input: [[series("ceph_health_status", target("ceph", "mgr-1")), "0x11 1x9"]],
    at: "20m",
    expect: [],
  },
  {
    name: "HEALTH_ERR for 10 minutes",
    alert: "CephHealthError",
    input: [[series("ceph_health_status", target("ceph", "mgr-1")), "2x10"]],
    at: "10m",
    expect: [
      {
        labels: sev(target("ceph", "mgr-1"), "critical"),
        summary: "Ceph health is HEALTH_ERR",
        description:
          "Ceph has reported HEALTH_ERR for 5 minutes (from the active manager on mgr-1): data may be unavailable; run 'ceph health detail'.",
      },
    ],
  },
  {
    name: "HEALTH_WARN",
    alert: "CephHealthError",
    input: [[series("ceph_health_status", target("ceph", "mgr-1")), "1x10"]],
    at: "10m",
    expect: [],
  },
  {
    name: "osd.3 down",
    alert: "CephOsdDown",
    input: [
      [series("ceph_osd_up", target("ceph", "mgr-1", { ceph_daemon: "osd.3" })), "1 0x10"],
      [series("ceph_osd_metadata", target("ceph", "mgr-1", { ceph_daemon: "osd.3", hostname: "srv-2" })), "1x10"],
    ],
    at: "10m",
    expect: [
      {
        labels: sev(target("ceph", "mgr-1", { ceph_daemon: "osd.3" }), "warning"),
        summary: "Ceph osd.3 is down",
        description: "osd.3 on srv-2 has been down for 5 minutes: its placement groups run degraded.",
      },
    ],
  },
  {
    name: "osd.3 up",
    alert: "CephOsdDown",
    input: [[series("ceph_osd_up", target("ceph", "mgr-1", { ceph_daemon: "osd.3" })), "1x10"]],
    at: "10m",
    expect: [],
  },
  {
    name: "no manager answers with data",
    alert: "CephMetricsMissing",
    input: [[series("up", target("ceph", "mgr-1")), "1x10"]],
    at: "10m",
    expect: [
      {
        labels: { job: "ceph", severity: "critical" },
        summary: "No Ceph metrics",
        description:
          "No Ceph manager answers with metrics (only the active manager's prometheus module does): every manager is down, or the module is off. Ceph is not watched.",
      },
    ],
  },
  {
    name: "the active manager answers",
    alert: "CephMetricsMissing",
    input: [[series("ceph_health_status", target("ceph", "mgr-1")), "0x10"]],
    at: "10m",
    expect: [],
  },
  // estate-kubernetes
  {
    name: "10% of the API server's requests 5xx",
    alert: "KubeApiServerErrors",
    input: [
      [
        series("apiserver_request_total", { job: "apiserver", instance: "10.0.0.31:6443", code: "500", verb: "GET" }),
        "0+6x20",
      ],
      [
        series("apiserver_request_total", { job: "apiserver", instance: "10.0.0.31:6443", code: "200", verb: "GET" }),
        "0+54x20",
      ],
    ],
    at: "20m",
    expect: [
      {
        labels: { instance: "10.0.0.31:6443", severity: "critical" },
        summary: "API server 10.0.0.31:6443 answers errors",
        description:
          "The Kubernetes API server 10.0.0.31:6443 answered 10% of its requests with 5xx over 5 minutes (threshold 5%).",
      },
    ],
  },
  {
    name: "4% 5xx",
    alert: "KubeApiServerErrors",
    input: [
      [
        series("apiserver_request_total", { job: "apiserver", instance: "10.0.0.31:6443", code: "500", verb: "GET" }),
        "0+2.4x20",
      ],
      [
        series("apiserver_request_total", { job: "apiserver", instance: "10.0.0.31:6443", code: "200", verb: "GET" }),
        "0+57.6x20",
      ],
    ],
    at: "20m",
    expect: [],
  },
  {
    name: "the newest snapshot 14 hours old",
    alert: "EtcdSnapshotStale",
    interval: "10m",
    input: [[series(ETCD, node("ctl-1")), "0x90"]],
    at: "14h",
    expect: [
      {
        labels: sev(node("ctl-1"), "warning"),
        summary: "Last etcd snapshot of ctl-1 is 14h 0m 0s old",
        description:
          "The newest local etcd snapshot of K3s server ctl-1 is 14h 0m 0s old (at most 13h): the snapshot schedule stopped.",
      },
    ],
  },
  {
    name: "a snapshot every 6 hours",
    alert: "EtcdSnapshotStale",
    interval: "10m",
    input: [[series(ETCD, node("ctl-1")), "0x35 21600x36 43200x20"]],
    at: "14h",
    expect: [],
  },
  {
    name: "K3s server up 14 hours without a snapshot metric",
    alert: "EtcdSnapshotMissing",
    interval: "10m",
    input: [[series("up", node("ctl-1")), "1x90"]],
    at: "14h",
    expect: [
      {
        labels: sev(node("ctl-1"), "warning"),
        summary: "K3s server ctl-1 reports no etcd snapshot",
        description:
          "K3s server ctl-1 is up but has reported no etcd snapshot for 13h: no snapshot was taken, or the timer that writes estate_etcd_snapshot_last_timestamp_seconds fails.",
      },
    ],
  },
  {
    name: "the K3s server reports its snapshot; a server that is no K3s server has none",
    alert: "EtcdSnapshotMissing",
    interval: "10m",
    input: [
      [series("up", node("ctl-1")), "1x90"],
      [series(ETCD, node("ctl-1")), "0+600x90"],
      [series("up", node("srv-1")), "1x90"],
    ],
    at: "14h",
    expect: [],
  },
  // estate-mesh
  {
    name: "10% 5xx at 1 request/s",
    alert: "IstioServiceErrors",
    input: [
      [series("istio_requests_total", istio({ response_code: "503" })), "0+6x20"],
      [series("istio_requests_total", istio({ response_code: "200" })), "0+54x20"],
    ],
    at: "15m",
    expect: [
      {
        labels: { ...SVC, severity: "warning" },
        summary: "Service api.apps.svc.cluster.local answers 10% 5xx",
        description:
          "api.apps.svc.cluster.local answered 10% of its requests with 5xx over 5 minutes (threshold 5%, as its sidecars report).",
      },
    ],
  },
  {
    name: "50% 5xx at 0.1 request/s (below the traffic guard); 4% at 1/s; source-side errors",
    alert: "IstioServiceErrors",
    input: [
      [series("istio_requests_total", istio({ response_code: "503" })), "0+3x20"],
      [series("istio_requests_total", istio({ response_code: "200" })), "0+3x20"],
      [
        series(
          "istio_requests_total",
          istio({ destination_service: "web.apps.svc.cluster.local", response_code: "503" }),
        ),
        "0+2.4x20",
      ],
      [
        series(
          "istio_requests_total",
          istio({ destination_service: "web.apps.svc.cluster.local", response_code: "200" }),
        ),
        "0+57.6x20",
      ],
      [
        series("istio_requests_total", {
          reporter: "source",
          destination_service: "db.apps.svc.cluster.local",
          response_code: "503",
        }),
        "0+60x20",
      ],
    ],
    at: "15m",
    expect: [],
  },
  {
    name: "p99 2.47 s",
    alert: "IstioServiceLatency",
    input: [
      [series("istio_request_duration_milliseconds_bucket", istio({ le: "100" })), "0+30x20"],
      [series("istio_request_duration_milliseconds_bucket", istio({ le: "1000" })), "0+30x20"],
      [series("istio_request_duration_milliseconds_bucket", istio({ le: "2500" })), "0+60x20"],
      [series("istio_request_duration_milliseconds_bucket", istio({ le: "+Inf" })), "0+60x20"],
      [series("istio_requests_total", istio({ response_code: "200" })), "0+60x20"],
    ],
    at: "20m",
    expect: [
      {
        labels: { ...SVC, severity: "warning" },
        summary: "Service api.apps.svc.cluster.local p99 latency 2.47k ms",
        description:
          "The 99th percentile of api.apps.svc.cluster.local's request duration is 2.47k ms over 5 minutes (threshold 1000 ms, as its sidecars report).",
      },
    ],
  },
  {
    name: "p99 below 1 s",
    alert: "IstioServiceLatency",
    input: [
      [series("istio_request_duration_milliseconds_bucket", istio({ le: "100" })), "0+30x20"],
      [series("istio_request_duration_milliseconds_bucket", istio({ le: "1000" })), "0+60x20"],
      [series("istio_request_duration_milliseconds_bucket", istio({ le: "2500" })), "0+60x20"],
      [series("istio_request_duration_milliseconds_bucket", istio({ le: "+Inf" })), "0+60x20"],
      [series("istio_requests_total", istio({ response_code: "200" })), "0+60x20"],
    ],
    at: "20m",
    expect: [],
  },
];

// ---- running promtool ------------------------------------------------------------------------

/**
 * The promtool unit-test file of `cases` (all of one `interval`) against `rules.yml`. The
 * rules are evaluated at the series' interval, so that every evaluation sees a sample
 * (long cases run at 10m steps, instead of 1m steps for 14 hours).
 */
export function promtoolTests(cases: readonly Case[], ruleFile = "rules.yml"): unknown {
  const intervals = new Set(cases.map((c) => c.interval ?? "1m"));
  if (intervals.size !== 1) throw new Error(`one file per interval, not ${[...intervals].join(", ")}`);
  return {
    rule_files: [ruleFile],
    evaluation_interval: [...intervals][0],
    tests: cases.map((c) => ({
      name: `${c.alert}: ${c.name}`,
      interval: c.interval ?? "1m",
      input_series: c.input.map(([s, values]) => ({ series: s, values })),
      alert_rule_test: [
        {
          eval_time: c.at,
          alertname: c.alert,
          exp_alerts: c.expect.map((e) => ({
            exp_labels: e.labels,
            exp_annotations: { summary: e.summary, description: e.description },
          })),
        },
      ],
    })),
  };
}

const dump = (x: unknown): string => yaml.dump(x, { lineWidth: -1, noRefs: true });

function promtool(files: Record<string, string>, args: string[]): { status: number | null; output: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "estate-rules-"));
  try {
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
    const r = spawnSync("promtool", args, { cwd: dir, encoding: "utf8" });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const checkRules = (groups: readonly RuleGroup[]) =>
  promtool({ "rules.yml": dump({ groups }) }, ["check", "rules", "rules.yml"]);
/**
 * `promtool test rules` over `cases`: one test file per rule group and interval, each
 * loading only its group's rule file (promtool evaluates every rule it loads at every step).
 */
function testRules(groups: readonly RuleGroup[], cases: readonly Case[]): { status: number | null; output: string } {
  const files: Record<string, string> = {};
  const tests: string[] = [];
  for (const g of groups) {
    const mine = cases.filter((c) => g.rules.some((r) => r.alert === c.alert));
    if (!mine.length) continue;
    files[`${g.name}.rules.yml`] = dump({ groups: [g] });
    for (const interval of [...new Set(mine.map((c) => c.interval ?? "1m"))].sort()) {
      const f = `${g.name}.tests-${interval}.yml`;
      files[f] = dump(
        promtoolTests(
          mine.filter((c) => (c.interval ?? "1m") === interval),
          `${g.name}.rules.yml`,
        ),
      );
      tests.push(f);
    }
  }
  const unplaced = cases.filter((c) => !groups.some((g) => g.rules.some((r) => r.alert === c.alert)));
  if (unplaced.length) throw new Error(`cases of alerts in no group: ${unplaced.map((c) => c.alert).join(" ")}`);
  return promtool(files, ["test", "rules", ...tests]);
}

/**
 * The CRD's patterns are Go RE2: `(?i)` (case-insensitive, on partial_response_strategy)
 * is no JavaScript syntax. Dropped, the pattern is stricter (case-sensitive); the estate's
 * rules do not set that field.
 */
function goPatterns(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(goPatterns);
  if (!x || typeof x !== "object") return x;
  return Object.fromEntries(
    Object.entries(x).map(([k, v]) => [
      k,
      k === "pattern" && typeof v === "string" ? v.replace("(?i)", "") : goPatterns(v),
    ]),
  );
}

// ---- the tests ----------------------------------------------------------------------------------

describe("monitoring alert rules (promtool)", function () {
  this.timeout(120000);
  before(() => requireTool("promtool", "prometheus"));

  const groups = ruleGroups(FIXTURE);
  const names = alertNames(groups);

  it("every group passes promtool check rules (fixture, dev and prod)", function () {
    for (const [what, gs] of [
      ["fixture", groups],
      ["dev", ruleGroups(rulesInputFor(estateOf("dev")))],
      ["prod", ruleGroups(rulesInputFor(estateOf("prod")))],
    ] as const) {
      assert.ok(gs.length > 0, `${what}: no groups`);
      for (const g of gs) {
        const r = checkRules([g]);
        assert.equal(r.status, 0, `${what} ${g.name}:\n${r.output}`);
        assert.match(r.output, new RegExp(`SUCCESS: ${g.rules.length} rules found`));
      }
    }
    console.log(`      figure monitoring.alerts ${names.length} alerts`);
  });

  it("the groups are the estate's parts, alert names unique, each with a severity and annotations naming what failed", function () {
    assert.deepEqual(
      groups.map((g) => g.name),
      ["estate-nodes", "estate-fabric", "estate-frontend", "estate-ceph", "estate-kubernetes", "estate-mesh"],
    );
    assert.equal(new Set(names).size, names.length, `duplicate alert names: ${names.join(" ")}`);
    for (const r of groups.flatMap((g) => g.rules)) {
      assert.ok((SEVERITIES as readonly string[]).includes(r.labels.severity), r.alert);
      assert.ok(r.annotations.summary && r.annotations.description, r.alert);
      assert.match(`${r.annotations.summary} ${r.annotations.description}`, /\{\{ \$labels\.|\$value|Ceph/, r.alert);
    }
  });

  it("every alert has a firing and a quiet promtool case (a new alert without both fails here)", function () {
    const firing = new Set(CASES.filter((c) => c.expect.length).map((c) => c.alert));
    const quiet = new Set(CASES.filter((c) => !c.expect.length).map((c) => c.alert));
    assert.deepEqual(
      names.filter((n) => !firing.has(n)),
      [],
      "alerts without a firing case",
    );
    assert.deepEqual(
      names.filter((n) => !quiet.has(n)),
      [],
      "alerts without a quiet case",
    );
    assert.deepEqual(
      CASES.map((c) => c.alert).filter((a) => !names.includes(a)),
      [],
      "cases of unknown alerts",
    );
  });

  it("promtool test rules: every case fires with complete labels and annotations, or stays quiet", function () {
    const r = testRules(groups, CASES);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS/);
    console.log(`      figure monitoring.promtool_cases ${CASES.length} cases`);
  });

  it("the checks catch mistakes: the seed's CPU threshold, a wrong expectation, a broken expression", function () {
    // The seed compared a rate of seconds with 80: that never fires on 85% busy cores.
    const seed = groups.map((g) => ({
      ...g,
      rules: g.rules.map((x) => (x.alert === "HostHighCpu" ? { ...x, expr: x.expr.replace(/> 0\.8$/, "> 80") } : x)),
    }));
    assert.notDeepEqual(seed, groups);
    const cpu = CASES.filter((c) => c.alert === "HostHighCpu");
    const r1 = testRules(seed, cpu);
    assert.notEqual(r1.status, 0, r1.output);
    assert.match(r1.output, /HostHighCpu/);
    // An expectation with one label wrong (pitfall 10: labels are compared whole).
    const wrong = CASES.filter((c) => c.alert === "BgpSessionDown").map((c) =>
      c.expect.length
        ? { ...c, expect: [{ ...c.expect[0], labels: { ...c.expect[0].labels, severity: "warning" } }] }
        : c,
    );
    const r2 = testRules(groups, wrong);
    assert.notEqual(r2.status, 0, r2.output);
    assert.match(r2.output, /BgpSessionDown/);
    // An annotation one character off.
    const text = CASES.filter((c) => c.alert === "NginxDown").map((c) =>
      c.expect.length ? { ...c, expect: [{ ...c.expect[0], summary: `${c.expect[0].summary}.` }] } : c,
    );
    assert.notEqual(testRules(groups, text).status, 0);
    // An expression that does not parse fails promtool check rules.
    const broken = [{ ...groups[0], rules: [{ ...groups[0].rules[0], expr: 'up{job="node" == 0' }] }];
    const r3 = checkRules(broken);
    assert.notEqual(r3.status, 0, r3.output);
    assert.match(r3.output, /parse error|unexpected/i);
  });

  it("the PrometheusRule objects validate against the pinned CRD (unknown fields rejected), and a misspelled field fails", function () {
    const validate = crdValidator(
      goPatterns(loadAllRef("kube-prometheus-stack/88.5.3/crds/crd-prometheusrules.yaml")) as unknown[],
    );
    const objects = prometheusRules(FIXTURE);
    assert.equal(objects.length, groups.length);
    for (const o of objects) {
      assert.deepEqual(validate(o), [], o.metadata.name);
      assert.equal(o.metadata.namespace, MONITORING_NAMESPACE);
      assert.equal(o.metadata.labels[SELECTOR_LABEL.key], SELECTOR_LABEL.value);
    }
    const o = objects[0];
    const misspelt = {
      ...o,
      spec: { groups: [{ ...o.spec.groups[0], rules: [{ ...o.spec.groups[0].rules[0], annotation: {} }] }] },
    };
    assert.ok(
      validate(misspelt).some((e) => /annotation/.test(e)),
      "a misspelled rule field passed the CRD check",
    );
  });

  it("dev and prod: rules for the parts they have; the etcd snapshot age follows the schedule", function () {
    for (const stack of ["dev", "prod"] as const) {
      const e = estateOf(stack);
      const input = rulesInputFor(e);
      const gs = ruleGroups(input).map((g) => g.name);
      assert.ok(gs.includes("estate-nodes") && gs.includes("estate-fabric"), `${stack}: ${gs.join(" ")}`);
      assert.equal(
        input.thresholds.etcdSnapshotMaxAgeSeconds,
        2 * cronMaxGapSeconds(e.kubernetes.etcdSnapshots.schedule) + 3600,
      );
      assert.ok(input.targets.length > 0);
    }
    assert.equal(cronMaxGapSeconds("0 */6 * * *"), 6 * 3600);
    assert.equal(cronMaxGapSeconds("30 2 * * *"), 24 * 3600);
    assert.equal(cronMaxGapSeconds("0 1,7,8 * * *"), 17 * 3600);
    assert.equal(cronMaxGapSeconds("*/15 * * * *"), 15 * 60);
    assert.equal(cronMaxGapSeconds("0 3 * * 0"), 7 * 86400);
  });
});

// ---- metric names --------------------------------------------------------------------------------

describe("monitoring alert rules: metric names", function () {
  this.timeout(30000);

  it("every metric an alert selects is exposed by a planned exporter (node exporter run for real) or allow-listed", async function () {
    const node = await nodeExporterMetrics();
    const used = ruleGroups(FIXTURE).flatMap((g) => g.rules.flatMap((r) => metricNames(r.expr)));
    assert.ok(used.includes("node_cpu_seconds_total") && used.includes("frr_bgp_peer_state"));
    for (const [re, why] of ALLOWED_METRICS) console.log(`      allow-list: ${re.source} (${why})`);
    assert.deepEqual(unexplained(used, node), []);
    // The check itself: a misspelled name is caught.
    assert.deepEqual(unexplained(["node_cpu_second_total"], node), ["node_cpu_second_total"]);
  });

  it("metricNames parses PromQL with Prometheus' grammar: names only, not functions, labels or keywords", function () {
    assert.deepEqual(metricNames('1 - avg without (cpu, mode) (rate(node_cpu_seconds_total{mode="idle"}[5m])) > 0.8'), [
      "node_cpu_seconds_total",
    ]);
    assert.deepEqual(
      metricNames(
        'a_total unless on (host) (b == 0) or absent({__name__="c", job="x"}) and sum by (le) (rate(d[$__rate_interval] offset 5m))',
      ),
      ["a_total", "b", "c", "d"],
    );
    assert.throws(() => metricNames("up{job="), /does not parse/);
  });
});
