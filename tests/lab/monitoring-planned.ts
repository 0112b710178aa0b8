/**
 * What the monitoring lab takes from the plan, read from the planned artifacts (what the
 * resources receive), never re-rendered: the exporters' flags (the `ExecStart=` of their
 * systemd drop-ins), the ScrapeConfigs (kind `k8s-object`), the rule groups (kind
 * `prometheus-rules`), the dashboards' queries (kind `grafana-dashboard`) and keepalived's
 * notify script. Each lab-side change is recorded on the lab (`note`) for the test to print.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { EXPORTERS, TARGET_LABELS, TEXTFILE_DIR } from "../../components/monitoring/conventions";
import type { PlanResult } from "../helpers/plan";
import type { Balancer } from "./frontend-lab";
import type { MonitoringLab, RuleGroup, ScrapeConfigObject } from "./monitoring-lab";
import { groupsOf } from "./monitoring-lab";

/**
 * Metric names the alert rules and dashboards use that this lab cannot expose, with the
 * reason (patterns are anchored regular expressions).
 */
export const ALLOWED_ABSENT: readonly [string, string][] = [
  ["istio_.*", "Istio's proxies: no mesh in this lab (the Istio alerts are unit-tested with promtool only)"],
  ["apiserver_.*", "the Kubernetes API server: no K3s in this lab (its alert is unit-tested only)"],
  ["estate_etcd_snapshot_last_timestamp_seconds", "written by the K3s servers' snapshot timer: no K3s in this lab"],
  ["ceph_.*", "the Ceph manager's prometheus module: no Ceph in this lab (the Ceph alerts are unit-tested only)"],
  [
    "estate_tls_certificate_not_after_timestamp_seconds",
    "written by the balancer's setup script when the certificate is installed; the lab runs the planned Nginx and keepalived files, not setup.sh",
  ],
];

// ---- exporters ----------------------------------------------------------------------------

/** Every planned artifact of `target`, as text. */
function artifactsOf(plan: PlanResult, target: string): { path: string; text: string }[] {
  return plan.index.filter((e) => e.target === target).map((e) => ({ path: e.path, text: plan.artifact(e.path) }));
}

/** The planned flags of `pkg` on `host`: its drop-in's `ExecStart=/usr/bin/<pkg> ...`. */
export function plannedFlags(plan: PlanResult, host: string, pkg: string): string[] {
  const re = new RegExp(`^ExecStart=/usr/bin/${pkg} (.*)$`, "m");
  for (const a of artifactsOf(plan, host)) {
    const m = re.exec(a.text);
    if (m) return m[1].trim().split(/\s+/);
  }
  throw new Error(`the plan runs no ${pkg} on ${host} (no ExecStart=/usr/bin/${pkg} in its artifacts)`);
}

/** The host's loopback (the planned listen address of its exporters). */
function loopbackOf(plan: PlanResult, host: string): string {
  const f = plan.outputs.fabric as {
    switches: { name: string; loopback: string }[];
    servers: { name: string; loopback: string }[];
  };
  const n = [...f.switches, ...f.servers].find((x) => x.name === host);
  if (!n) throw new Error(`${host}: not in the fabric output`);
  return n.loopback;
}

/** Hosts by loopback (for targets without a host label). */
export function hostByAddress(plan: PlanResult): Map<string, string> {
  const f = plan.outputs.fabric as {
    switches: { name: string; loopback: string }[];
    servers: { name: string; loopback: string }[];
  };
  return new Map([...f.switches, ...f.servers].map((n) => [n.loopback, n.name]));
}

/** Rewrites the planned listen flag (which must be the host's loopback and the conventional port) to the lab's. */
function listenRewrite(
  l: MonitoringLab,
  plan: PlanResult,
  host: string,
  ns: string,
  port: number,
): (f: string) => string {
  return (f) => {
    const m = /^(--?web\.listen-address=)(.*)$/.exec(f);
    if (!m) return f;
    if (m[2] !== `${loopbackOf(plan, host)}:${port}`)
      throw new Error(`${host}: an exporter listens on ${m[2]}, not on its loopback :${port}`);
    return `${m[1]}${l.mgmtAddress(ns)}:${port}`;
  };
}

export function startNodeExporter(
  l: MonitoringLab,
  plan: PlanResult,
  host: string,
  ns: string,
  textfile: string,
): void {
  const pkg = EXPORTERS.node.package;
  const flags = plannedFlags(plan, host, pkg);
  const listen = listenRewrite(l, plan, host, ns, EXPORTERS.node.port);
  l.startExporter({ job: EXPORTERS.node.job, host, ns, bin: pkg }, flags, (f) =>
    f === `--collector.textfile.directory=${TEXTFILE_DIR}` ? `--collector.textfile.directory=${textfile}` : listen(f),
  );
}

/**
 * The FRR exporter: the BGP collector reads the vty sockets in the fabric lab's node folder;
 * the BFD collector always runs vtysh (frr_exporter 1.1.4), which needs the same folder
 * as `--vty_socket` (monitoring-lab note, pitfall 1).
 */
export function startFrrExporter(l: MonitoringLab, plan: PlanResult, host: string, ns: string, frrDir: string): void {
  const pkg = EXPORTERS.frr.package;
  const flags = plannedFlags(plan, host, pkg);
  const listen = listenRewrite(l, plan, host, ns, EXPORTERS.frr.port);
  const hasVtysh = flags.some((f) => f.startsWith("--frr.vtysh.options="));
  const hasDir = flags.some((f) => f.startsWith("--frr.socket.dir-path="));
  l.startExporter(
    { job: EXPORTERS.frr.job, host, ns, bin: pkg },
    flags,
    (f) => {
      if (f.startsWith("--frr.socket.dir-path=")) return `--frr.socket.dir-path=${frrDir}`;
      if (f.startsWith("--frr.vtysh.options=")) return `--frr.vtysh.options=--vty_socket=${frrDir}`;
      return listen(f);
    },
    [
      ...(hasDir ? [] : [`--frr.socket.dir-path=${frrDir}`]),
      ...(hasVtysh ? [] : [`--frr.vtysh.options=--vty_socket=${frrDir}`]),
    ],
  );
}

export function startNginxExporter(l: MonitoringLab, plan: PlanResult, host: string, ns: string): void {
  const pkg = EXPORTERS.nginx.package;
  l.startExporter(
    { job: EXPORTERS.nginx.job, host, ns, bin: pkg },
    plannedFlags(plan, host, pkg),
    listenRewrite(l, plan, host, ns, EXPORTERS.nginx.port),
  );
}

// ---- keepalived's notify script -----------------------------------------------------------------

/** Where an artifact is installed: its `<path>.install.sh` moves it there. */
function installedAt(plan: PlanResult, artifact: string): string | undefined {
  const entry = plan.index.find((e) => e.path === `${artifact}.install.sh`);
  if (!entry) return undefined;
  return /mv -f "\$new" '\\''(\/[^']+)'\\''/.exec(plan.artifact(entry.path))?.[1];
}

/**
 * The substitutions keepalived.conf needs for the planned notify script(s) that write the
 * VRRP state into the textfile directory: each script written to `<balancer>/` with
 * `TEXTFILE_DIR` replaced by the lab's `textfile` folder.
 */
export function keepalivedSubstitutions(
  plan: PlanResult,
  b: Balancer,
  textfile: string,
  l: MonitoringLab,
): [string, string][] {
  const conf = plan.artifact(`frontend/${b.name}/keepalived.conf`);
  const pairs: [string, string][] = [];
  for (const m of conf.matchAll(/^\s*notify\w*\s+"?(\/[^\s"]+)/gm)) {
    const script = m[1];
    const art = plan.index.find((e) => e.target === b.name && installedAt(plan, e.path) === script);
    if (!art) continue;
    const text = plan.artifact(art.path);
    if (!text.includes(TEXTFILE_DIR)) continue;
    const to = path.join(b.dir, path.basename(script));
    fs.mkdirSync(b.dir, { recursive: true });
    fs.writeFileSync(to, text.split(TEXTFILE_DIR).join(textfile), { mode: 0o755 });
    l.note(
      `keepalived notify: ${script} -> <balancer>/${path.basename(script)} (the planned script, ${TEXTFILE_DIR} -> <run>/<host>/textfile)`,
    );
    if (!pairs.some(([f]) => f === script)) pairs.push([script, to]);
  }
  if (!pairs.length)
    throw new Error(`frontend/${b.name}/keepalived.conf runs no planned notify script that writes ${TEXTFILE_DIR}`);
  return pairs;
}

// ---- scrape configs, rules, dashboards -----------------------------------------------------

function yamlDocs(text: string): unknown[] {
  return yaml.loadAll(text).filter((d) => d !== null && d !== undefined);
}

/** The planned ScrapeConfig objects. */
export function scrapeConfigs(plan: PlanResult): ScrapeConfigObject[] {
  const out = plan
    .ofKind("k8s-object")
    .flatMap((e) => yamlDocs(plan.artifact(e.path)))
    .filter((d) => (d as { kind?: string }).kind === "ScrapeConfig") as ScrapeConfigObject[];
  if (!out.length) throw new Error("the plan has no ScrapeConfig objects (kind k8s-object)");
  for (const c of out)
    for (const s of c.spec.staticConfigs ?? [])
      if (!s.labels?.[TARGET_LABELS.host])
        throw new Error(`ScrapeConfig ${c.metadata.name}: a target group without the ${TARGET_LABELS.host} label`);
  return out;
}

/** The planned rule groups (every PrometheusRule of kind `prometheus-rules`). */
export function ruleGroups(plan: PlanResult): RuleGroup[] {
  const groups = plan.ofKind("prometheus-rules").flatMap((e) => groupsOf(yamlDocs(plan.artifact(e.path))));
  if (!groups.length) throw new Error("the plan has no rule groups (kind prometheus-rules)");
  return groups;
}

/** Every `expr` of the planned dashboards (Grafana JSON in ConfigMaps of kind `grafana-dashboard`). */
export function dashboardQueries(plan: PlanResult): { dashboard: string; expr: string }[] {
  const out: { dashboard: string; expr: string }[] = [];
  const walk = (x: unknown, dashboard: string): void => {
    if (Array.isArray(x)) for (const e of x) walk(e, dashboard);
    else if (x && typeof x === "object")
      for (const [k, v] of Object.entries(x)) {
        if (k === "expr" && typeof v === "string" && v.trim()) out.push({ dashboard, expr: v });
        else walk(v, dashboard);
      }
  };
  for (const e of plan.ofKind("grafana-dashboard"))
    for (const doc of yamlDocs(plan.artifact(e.path))) {
      const data = (doc as { data?: Record<string, string> }).data ?? {};
      for (const [file, json] of Object.entries(data)) walk(JSON.parse(json), `${e.target}/${file}`);
    }
  if (!out.length) throw new Error("the plan has no dashboard queries (kind grafana-dashboard)");
  return out;
}
