/**
 * From the estate model to the alert rules' and dashboards' input: the one place that reads
 * the model for them. `rules.ts` and `dashboards.ts` take only these.
 */
import type { Estate } from "../../config/model";
import { frontTierInputFor } from "../frontend/input";
import { vrrpInstanceName } from "../frontend/render";
import type { DashboardsInput } from "./dashboards";
import { scrapeHostsOf } from "./input";
import type { ExpectedTarget, RulesInput } from "./rules";

/** The subset of the model the rules and dashboards read. */
export type RulesModel = Pick<Estate, "servers" | "switches" | "kubernetes" | "monitoring" | "frontend" | "pools">;

/** Every value of one cron field (`*`, `a`, `a-b`, `*\/n`, `a-b/n`, lists of them) within [lo, hi]. */
function cronValues(field: string, lo: number, hi: number): number[] {
  const out = new Set<number>();
  for (const part of field.split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    let [a, b] = [lo, hi];
    if (range !== "*") {
      const [x, y] = range.split("-").map(Number);
      [a, b] = [x, y === undefined ? (stepText === undefined ? x : hi) : y];
    }
    if (![a, b, step].every(Number.isInteger) || step < 1) throw new Error(`cron field '${field}' is not understood`);
    for (let v = a; v <= b; v += step) out.add(v);
  }
  return [...out].sort((p, q) => p - q);
}

/**
 * The longest time between two runs of a five-field cron schedule, in seconds. Schedules
 * restricted by day of month, month or weekday count as at most one run a week.
 */
export function cronMaxGapSeconds(schedule: string): number {
  const [min, hour, dom, month, dow] = schedule.trim().split(/\s+/);
  if (dom !== "*" || month !== "*" || dow !== "*") return 7 * 86400;
  const times = cronValues(hour, 0, 23).flatMap((h) => cronValues(min, 0, 59).map((m) => h * 3600 + m * 60));
  if (!times.length) throw new Error(`cron schedule '${schedule}' never runs`);
  let gap = times[0] + 86400 - times[times.length - 1];
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i] - times[i - 1]);
  return gap;
}

/** A `13h`/`90m` duration in seconds. */
function durationSeconds(d: string): number {
  const m = /^(\d+)([mh])$/.exec(d);
  if (!m) throw new Error(`duration '${d}' is not understood`);
  return Number(m[1]) * (m[2] === "h" ? 3600 : 60);
}

export function rulesInputFor(estate: RulesModel): RulesInput {
  const a = estate.monitoring.alerts;
  const targets: ExpectedTarget[] = scrapeHostsOf(estate).flatMap((h) => h.jobs.map((job) => ({ job, host: h.name })));
  const balancers = estate.servers.filter((s) => s.roles.includes("lb")).map((s) => s.name);
  const k3sServers = estate.servers.filter((s) => s.roles.includes("k8s-server")).map((s) => s.name);
  return {
    thresholds: {
      cpuBusyRatio: a.cpuBusyRatio,
      memoryAvailableRatio: a.memoryAvailableRatio,
      memoryStallRatio: a.memoryStallRatio,
      filesystemFreeRatio: a.filesystemFreeRatio,
      filesystemFillHours: a.filesystemFillHours,
      clockOffsetSeconds: a.clockOffsetSeconds,
      certificateWarningDays: a.certificateWarningDays,
      certificateCriticalDays: a.certificateCriticalDays,
      apiServerErrorRatio: a.apiServerErrorRatio,
      istioErrorRatio: a.istioErrorRatio,
      istioP99LatencyMs: a.istioP99LatencyMs,
      istioMinRequestRate: a.istioMinRequestRate,
      // Two missed snapshots and an hour of slack, unless the config says otherwise.
      etcdSnapshotMaxAgeSeconds:
        a.etcdSnapshotMaxAge !== undefined
          ? durationSeconds(a.etcdSnapshotMaxAge)
          : 2 * cronMaxGapSeconds(estate.kubernetes.etcdSnapshots.schedule) + 3600,
    },
    targets,
    vrrpInstances: balancers.length ? [vrrpInstanceName(frontTierInputFor(estate))] : [],
    tlsHosts: balancers,
    k3sServers,
    mesh: k3sServers.length > 0,
  };
}

export function dashboardsInputFor(estate: RulesModel): DashboardsInput {
  return { thresholds: rulesInputFor(estate).thresholds };
}
