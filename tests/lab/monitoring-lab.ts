/**
 * A live alerting lab: the fabric lab (planned FRR configs in real daemons, one namespace
 * per switch and server) and the front-tier lab (planned Nginx + keepalived pair) of one
 * plan, the estate's exporters (Debian packages) in their namespaces with the planned
 * flags, and a monitoring namespace with a real Prometheus (the planned rule groups and
 * the planned ScrapeConfigs' targets), a real Alertmanager and a webhook receiver that
 * stamps every notification it gets.
 *
 * The monitoring namespace reaches every exporter over a lab management segment (a bridge
 * in that namespace, one veth `mon0` into each namespace that runs an exporter, addresses
 * from LAB_NET). Exporters listen there instead of on the host's loopback: the same host
 * appears twice (a balancer is a server of the fabric lab and a balancer of the front-tier
 * lab), so its loopback cannot be routed to one place. Each target keeps its planned
 * `instance` (`<loopback>:<port>`) as a label; only the address Prometheus connects to
 * differs. Every such difference is recorded in `substitutions` for the test to print.
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { EXPORTERS, TARGET_LABELS, TEXTFILE_DIR } from "../../components/monitoring/conventions";
import type { PlanResult } from "../helpers/plan";
import { FabricLab, type FabricTopology } from "./fabric-lab";
import { FrontendLab, type Balancer } from "./frontend-lab";
import { cleanupStale as cleanupStaleNamespaces, isAlive, killNamespace, run, sleep, sleepSync } from "./netns";

export { sleep };

/** Namespaces of this suite are named `<BASE><pid>-<node>`. */
const BASE = "emon";
/** The lab management segment (in no plan's pools). */
export const LAB_NET = "172.30.254";
/** The lab's scrape and evaluation interval, and the planned ones it replaces. */
export const LAB_INTERVAL_S = 1;
/**
 * The lab's scrape interval (and timeout): 2 s, not 1 s, so that the FRR exporter's BFD
 * collector (it runs vtysh on every scrape) answers within the timeout on a loaded 2-core
 * machine (at 1 s its targets flapped down under load).
 */
export const LAB_SCRAPE_S = 2;
export const PLANNED_EVALUATION_S = 60;
/** `for:` and range windows are scaled by this (the planned 60 s evaluation -> the lab's 1 s). */
export const SCALE = LAB_INTERVAL_S / PLANNED_EVALUATION_S;
/** A scaled range window keeps at least this many seconds (rate() needs samples). */
export const MIN_RANGE_S = 4;
const PROM = "127.0.0.1:9090";
const AM = "127.0.0.1:9093";
const HOOK = "127.0.0.1:5001";

/** Deletes namespaces left by earlier runs of this suite whose process is gone. */
export function cleanupStale(): void {
  cleanupStaleNamespaces(BASE);
}

// ---- PromQL helpers -------------------------------------------------------------------

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** Seconds of a Prometheus duration (`1h30m`, `90s`, `500ms`). */
export function seconds(d: string): number {
  const parts = [...d.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g)];
  if (!parts.length || parts.map((p) => p[0]).join("") !== d) throw new Error(`not a duration: ${d}`);
  return parts.reduce((n, p) => n + Number(p[1]) * UNITS[p[2]], 0);
}

function duration(s: number): string {
  return Number.isInteger(s) ? `${s}s` : `${Math.round(s * 1000)}ms`;
}

/** A `for:` scaled for the lab (whole lab intervals, at least one when it was not zero). */
export function scaledFor(d: string): string {
  const s = seconds(d);
  return s === 0 ? d : duration(Math.max(LAB_INTERVAL_S, Math.ceil(s * SCALE)));
}

/** An expression with every range `[d]` and subquery `[d:r]` scaled (at least MIN_RANGE_S). */
export function scaledExpr(expr: string): string {
  const one = (d: string): string => duration(Math.max(MIN_RANGE_S, Math.ceil(seconds(d) * SCALE)));
  return expr.replace(/\[(\d[\dmshdwy]*)(?::(\d[\dmshdwy]*)?)?\]/g, (_m, r: string, step?: string) =>
    step === undefined && !_m.includes(":")
      ? `[${one(r)}]`
      : `[${one(r)}:${step ? duration(Math.max(LAB_INTERVAL_S, Math.ceil(seconds(step) * SCALE))) : ""}]`,
  );
}

// ---- Planned inputs -------------------------------------------------------------------

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}

/** Rule groups from PrometheusRule objects, `{ groups }` documents or plain group lists. */
export function groupsOf(x: unknown): RuleGroup[] {
  if (Array.isArray(x)) return x.flatMap((e) => ((e as RuleGroup).rules ? [e as RuleGroup] : groupsOf(e)));
  const o = x as { spec?: { groups?: RuleGroup[] }; groups?: RuleGroup[] };
  if (o?.spec?.groups) return o.spec.groups;
  if (o?.groups) return o.groups;
  throw new Error("no rule groups found (want PrometheusRule objects, { groups } or a list of groups)");
}

/** The rule groups for the lab: `for:`, group intervals and range windows scaled; each change recorded. */
export function labGroups(groups: readonly RuleGroup[], note: (s: string) => void): RuleGroup[] {
  return groups.map((g) => ({
    ...g,
    ...(g.interval ? { interval: `${LAB_INTERVAL_S}s` } : {}),
    rules: g.rules.map((r) => {
      const out: Rule = { ...r, expr: scaledExpr(String(r.expr)) };
      if (out.expr !== String(r.expr))
        note(`rule ${r.alert ?? r.record}: ranges ${String(r.expr).trim()} -> ${out.expr.trim()}`);
      if (r.for !== undefined) {
        out.for = scaledFor(r.for);
        if (out.for !== r.for) note(`rule ${r.alert ?? r.record}: for ${r.for} -> ${out.for}`);
      }
      return out;
    }),
  }));
}

/** A planned ScrapeConfig (monitoring.coreos.com/v1alpha1), the parts the lab uses. */
export interface ScrapeConfigObject {
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    jobName?: string;
    metricsPath?: string;
    scheme?: string;
    scrapeInterval?: string;
    scrapeTimeout?: string;
    honorLabels?: boolean;
    staticConfigs?: { targets: string[]; labels?: Record<string, string> }[];
    relabelings?: Record<string, unknown>[];
    metricRelabelings?: Record<string, unknown>[];
  };
}

function snakeKeys(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    const key = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    out[key] = key === "action" && typeof v === "string" ? v.toLowerCase() : v;
  }
  return out;
}

export interface Target {
  readonly job: string;
  /** The planned `<address>:<port>`. */
  readonly planned: string;
  readonly labels: Record<string, string>;
}

/** The targets of planned ScrapeConfigs, by job. */
export function targetsOf(configs: readonly ScrapeConfigObject[]): Target[] {
  return configs.flatMap((c) =>
    (c.spec.staticConfigs ?? []).flatMap((s) =>
      s.targets.map((t) => ({ job: c.spec.jobName ?? c.metadata.name, planned: t, labels: { ...(s.labels ?? {}) } })),
    ),
  );
}

/**
 * Prometheus scrape configs from planned ScrapeConfigs: each target's address replaced by
 * `address(target)` (its planned address kept as `instance`), or dropped when that is
 * undefined; intervals the lab's.
 */
export function promScrapeConfigs(
  configs: readonly ScrapeConfigObject[],
  address: (t: Target) => string | undefined,
): Record<string, unknown>[] {
  return configs.map((c) => {
    const job = c.spec.jobName ?? c.metadata.name;
    const statics = (c.spec.staticConfigs ?? []).flatMap((s) =>
      s.targets.flatMap((t) => {
        const a = address({ job, planned: t, labels: s.labels ?? {} });
        return a === undefined ? [] : [{ targets: [a], labels: { ...(s.labels ?? {}), instance: t } }];
      }),
    );
    return {
      job_name: job,
      scrape_interval: `${LAB_SCRAPE_S}s`,
      scrape_timeout: `${LAB_SCRAPE_S}s`,
      ...(c.spec.metricsPath ? { metrics_path: c.spec.metricsPath } : {}),
      ...(c.spec.scheme ? { scheme: c.spec.scheme.toLowerCase() } : {}),
      ...(c.spec.honorLabels !== undefined ? { honor_labels: c.spec.honorLabels } : {}),
      ...(c.spec.relabelings ? { relabel_configs: c.spec.relabelings.map(snakeKeys) } : {}),
      ...(c.spec.metricRelabelings ? { metric_relabel_configs: c.spec.metricRelabelings.map(snakeKeys) } : {}),
      static_configs: statics,
    };
  });
}

// ---- Webhook ---------------------------------------------------------------------------

/** One alert of one webhook POST, stamped with the receiver's clock (epoch seconds). */
export interface Notification {
  readonly t: number;
  readonly status: "firing" | "resolved";
  readonly labels: Record<string, string>;
}

const WEBHOOK_JS = `const http = require("http");
const fs = require("fs");
const [host, port] = process.argv[2].split(":");
const file = process.argv[3];
http
  .createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const t = Date.now() / 1000;
      try {
        const lines = JSON.parse(body).alerts.map((a) => JSON.stringify({ t, status: a.status, labels: a.labels }));
        fs.appendFileSync(file, lines.join("\\n") + "\\n");
      } catch (e) {
        fs.appendFileSync(file + ".err", String(e) + "\\n");
      }
      res.end("ok");
    });
  })
  .listen(Number(port), host);
`;

// ---- The lab ---------------------------------------------------------------------------

export interface Exporter {
  readonly job: string;
  readonly host: string;
  /** The namespace it runs in. */
  readonly ns: string;
  /** Where it listens in the lab (`<LAB_NET>.x:<port>`). */
  readonly address: string;
}

export class MonitoringLab {
  readonly dir: string;
  readonly ns: string;
  readonly fabric: FabricLab;
  readonly frontend: FrontendLab;
  readonly substitutions: string[] = [];
  readonly exporters: Exporter[] = [];
  private readonly ports: { ns: string; port: string; address: string }[] = [];
  private readonly children: ChildProcess[] = [];
  private made = false;
  readonly hookFile: string;

  constructor(
    readonly stack: string,
    readonly plan: PlanResult,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `estate-monitoring-lab-${stack}-`));
    fs.chmodSync(this.dir, 0o755);
    this.ns = `${BASE}${process.pid}-mon`;
    this.fabric = new FabricLab(`mon-${stack}`, plan.outputs.fabric as FabricTopology);
    this.frontend = new FrontendLab(stack, plan);
    this.hookFile = path.join(this.dir, "webhook.jsonl");
  }

  note(s: string): void {
    if (!this.substitutions.includes(s)) this.substitutions.push(s);
  }

  /** Namespaces, links, the management segment. */
  build(): void {
    run("ip", ["netns", "add", this.ns]);
    this.made = true;
    run("ip", ["-n", this.ns, "link", "set", "lo", "up"]);
    run("ip", ["-n", this.ns, "link", "add", "brm", "type", "bridge"]);
    run("ip", ["-n", this.ns, "addr", "add", `${LAB_NET}.1/24`, "dev", "brm"]);
    run("ip", ["-n", this.ns, "link", "set", "brm", "up"]);
    this.fabric.build();
    this.frontend.build();
  }

  /** The lab management address of `ns` (a veth `mon0` to the monitoring bridge, made on first use). */
  mgmtAddress(ns: string): string {
    const have = this.ports.find((p) => p.ns === ns);
    if (have) return have.address;
    const i = this.ports.length;
    const port = `m${i}`;
    const address = `${LAB_NET}.${i + 2}`;
    run("ip", ["link", "add", "mon0", "netns", ns, "type", "veth", "peer", "name", port, "netns", this.ns]);
    run("ip", ["-n", this.ns, "link", "set", port, "master", "brm", "up"]);
    run("ip", ["-n", ns, "addr", "add", `${address}/24`, "dev", "mon0"]);
    run("ip", ["-n", ns, "link", "set", "mon0", "up"]);
    this.ports.push({ ns, port, address });
    return address;
  }

  /** A host's own lab folder (textfile directory, exporter logs). */
  hostDir(host: string): string {
    const d = path.join(this.dir, host);
    fs.mkdirSync(path.join(d, "textfile"), { recursive: true });
    fs.chmodSync(d, 0o755);
    fs.chmodSync(path.join(d, "textfile"), 0o777);
    return d;
  }

  /** Starts `bin args` in `ns` in the background, its output in `log`. */
  spawnIn(ns: string, bin: string, args: readonly string[], log: string): ChildProcess {
    const fd = fs.openSync(log, "a");
    const child = spawn("ip", ["netns", "exec", ns, bin, ...args], { stdio: ["ignore", fd, fd] });
    fs.closeSync(fd);
    this.children.push(child);
    return child;
  }

  /**
   * Starts one exporter: `planned` are its planned flags; `rewrite` maps a planned flag to
   * the lab's (each change recorded), `add` are flags only the lab needs (recorded).
   */
  startExporter(
    e: { job: string; host: string; ns: string; bin: string },
    planned: readonly string[],
    rewrite: (flag: string) => string,
    add: readonly string[] = [],
  ): Exporter {
    const args = planned.map((f) => {
      const to = rewrite(f);
      if (to !== f)
        this.note(`${e.job} exporter: ${f} -> ${to.replace(this.dir, "<run>").replace(this.fabric.root, "<fabric>")}`);
      return to;
    });
    for (const f of add)
      this.note(`${e.job} exporter: + ${f.replace(this.dir, "<run>").replace(this.fabric.root, "<fabric>")}`);
    const listen = [...args, ...add].find((f) => /^--?web\.listen-address=/.test(f))?.split("=")[1];
    if (!listen) throw new Error(`${e.job} exporter of ${e.host}: no --web.listen-address`);
    this.spawnIn(e.ns, e.bin, [...args, ...add], path.join(this.hostDir(e.host), `${e.job}-exporter.log`));
    const ex = { job: e.job, host: e.host, ns: e.ns, address: listen };
    this.exporters.push(ex);
    return ex;
  }

  /** Waits until every exporter answers on /metrics (from the monitoring namespace). */
  waitExporters(limitMs = 15000): void {
    const end = Date.now() + limitMs;
    for (const e of this.exporters) {
      for (;;) {
        const r = spawnSync("ip", [
          "netns",
          "exec",
          this.ns,
          "curl",
          "-sf",
          "-m",
          "2",
          "-o",
          "/dev/null",
          `http://${e.address}/metrics`,
        ]);
        if (r.status === 0) break;
        if (Date.now() > end) throw new Error(`${e.job} exporter of ${e.host} does not answer on ${e.address}`);
        sleepSync(200);
      }
    }
  }

  /** Writes the configs, checks them with promtool/amtool and starts webhook, Alertmanager and Prometheus. */
  startMonitoring(prometheusYml: Record<string, unknown>, rules: { groups: RuleGroup[] }): void {
    const d = path.join(this.dir, "mon");
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, "rules.yml"), yaml.dump(rules, { noRefs: true, lineWidth: -1 }));
    fs.writeFileSync(
      path.join(d, "prometheus.yml"),
      yaml.dump(
        {
          global: {
            scrape_interval: `${LAB_SCRAPE_S}s`,
            scrape_timeout: `${LAB_SCRAPE_S}s`,
            evaluation_interval: `${LAB_INTERVAL_S}s`,
          },
          rule_files: [path.join(d, "rules.yml")],
          alerting: { alertmanagers: [{ static_configs: [{ targets: [AM] }] }] },
          ...prometheusYml,
        },
        { noRefs: true, lineWidth: -1 },
      ),
    );
    fs.writeFileSync(
      path.join(d, "alertmanager.yml"),
      yaml.dump({
        route: {
          receiver: "lab",
          group_by: ["..."],
          group_wait: "1s",
          group_interval: "1s",
          repeat_interval: "1h",
        },
        receivers: [{ name: "lab", webhook_configs: [{ url: `http://${HOOK}/`, send_resolved: true }] }],
      }),
    );
    run("promtool", ["check", "rules", path.join(d, "rules.yml")]);
    run("promtool", ["check", "config", path.join(d, "prometheus.yml")]);
    run("amtool", ["check-config", path.join(d, "alertmanager.yml")]);
    fs.writeFileSync(path.join(d, "webhook.js"), WEBHOOK_JS);
    fs.writeFileSync(this.hookFile, "");
    this.spawnIn(
      this.ns,
      process.execPath,
      [path.join(d, "webhook.js"), HOOK, this.hookFile],
      path.join(d, "webhook.log"),
    );
    this.spawnIn(
      this.ns,
      "prometheus-alertmanager",
      [
        `--config.file=${d}/alertmanager.yml`,
        `--storage.path=${d}/am`,
        `--web.listen-address=${AM}`,
        "--cluster.listen-address=",
      ],
      path.join(d, "alertmanager.log"),
    );
    this.spawnIn(
      this.ns,
      "prometheus",
      [`--config.file=${d}/prometheus.yml`, `--storage.tsdb.path=${d}/tsdb`, `--web.listen-address=${PROM}`],
      path.join(d, "prometheus.log"),
    );
  }

  /** GET from the monitoring namespace; the parsed JSON. */
  get(url: string): unknown {
    const out = run("ip", ["netns", "exec", this.ns, "curl", "-sS", "-m", "5", "--fail-with-body", url]);
    return JSON.parse(out);
  }

  /** A PromQL instant query: each result's labels and value. */
  query(q: string): { metric: Record<string, string>; value: number }[] {
    const r = this.get(`http://${PROM}/api/v1/query?query=${encodeURIComponent(q)}`) as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    return r.data.result.map((x) => ({ metric: x.metric, value: Number(x.value[1]) }));
  }

  /** The scrape errors of targets that are down: `<job> <instance>: <error>`. */
  targetErrors(): string[] {
    const r = this.get(`http://${PROM}/api/v1/targets?state=active`) as {
      data: { activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] };
    };
    return r.data.activeTargets
      .filter((t) => t.health !== "up")
      .map((t) => `${t.labels.job} ${t.labels.instance}: ${t.health} ${t.lastError}`);
  }

  /** Every metric name Prometheus holds. */
  metricNames(): string[] {
    return (this.get(`http://${PROM}/api/v1/label/__name__/values`) as { data: string[] }).data;
  }

  waitReady(limitMs = 20000): void {
    const end = Date.now() + limitMs;
    for (const url of [`http://${PROM}/-/ready`, `http://${AM}/-/ready`]) {
      while (
        spawnSync("ip", ["netns", "exec", this.ns, "curl", "-sf", "-m", "2", "-o", "/dev/null", url]).status !== 0
      ) {
        if (Date.now() > end) throw new Error(`${url} not ready within ${limitMs} ms\n${this.logs()}`);
        sleepSync(200);
      }
    }
  }

  /** Waits for `cond` (polled every 250 ms) up to `limitMs`; returns the last problem or undefined. */
  async until(cond: () => string | undefined, limitMs: number): Promise<string | undefined> {
    const end = Date.now() + limitMs;
    let last = cond();
    while (last !== undefined && Date.now() < end) {
      await sleep(250);
      last = cond();
    }
    return last;
  }

  notifications(): Notification[] {
    return fs
      .readFileSync(this.hookFile, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Notification);
  }

  /**
   * Waits up to `limitMs` until one of `alerts` sent `status` after `since` with labels
   * matching `match`, then `graceMs` more for the others; the first time of each that did.
   */
  async waitAny(
    alerts: readonly string[],
    status: "firing" | "resolved",
    since: number,
    limitMs: number,
    match: (labels: Record<string, string>) => boolean,
    graceMs = 3000,
  ): Promise<Map<string, number>> {
    const seen = (): Map<string, number> => {
      const out = new Map<string, number>();
      for (const n of this.notifications())
        if (n.t > since && n.status === status && alerts.includes(n.labels.alertname) && match(n.labels))
          if (!out.has(n.labels.alertname)) out.set(n.labels.alertname, n.t);
      return out;
    };
    const end = Date.now() + limitMs;
    while (seen().size === 0 && Date.now() < end) await sleep(100);
    if (seen().size) await sleep(graceMs);
    return seen();
  }

  /**
   * The first notification after `since` (epoch s) of `alert` with `status` whose labels
   * match `match`, waiting up to `limitMs`; its time, or undefined.
   */
  async waitNotification(
    alert: string,
    status: "firing" | "resolved",
    since: number,
    limitMs: number,
    match: (labels: Record<string, string>) => boolean = () => true,
  ): Promise<number | undefined> {
    const end = Date.now() + limitMs;
    for (;;) {
      const hit = this.notifications().find(
        (n) => n.t > since && n.status === status && n.labels.alertname === alert && match(n.labels),
      );
      if (hit) return hit.t;
      if (Date.now() > end) return undefined;
      await sleep(100);
    }
  }

  /** Cuts a namespace's management port (its exporters unreachable), or restores it. */
  cutMgmt(ns: string, on: boolean): void {
    if (on)
      run(
        "ip",
        ["netns", "exec", ns, "nft", "-f", "-"],
        `table inet lab_mgmt_cut {
  chain input { type filter hook input priority -500; policy accept; iifname "mon0" drop; }
  chain output { type filter hook output priority -500; policy accept; oifname "mon0" drop; }
}
`,
      );
    else spawnSync("ip", ["netns", "exec", ns, "nft", "delete", "table", "inet", "lab_mgmt_cut"], { stdio: "ignore" });
  }

  /** The tails of the monitoring daemons' logs, for failure messages. */
  logs(): string {
    const d = path.join(this.dir, "mon");
    return ["prometheus.log", "alertmanager.log", "webhook.log"]
      .map((f) => path.join(d, f))
      .filter((f) => fs.existsSync(f))
      .map((f) => `--- ${path.basename(f)}\n${fs.readFileSync(f, "utf8").split("\n").slice(-15).join("\n")}`)
      .join("\n");
  }

  /** Kills everything the lab started, deletes its namespaces and folders. Safe to call twice. */
  teardown(): void {
    for (const c of this.children) if (c.exitCode === null && c.pid && isAlive(c.pid)) c.kill("SIGTERM");
    this.frontend.teardown();
    this.fabric.teardown();
    if (this.made) killNamespace(this.ns);
    this.made = false;
    for (const c of this.children) if (c.exitCode === null) c.kill("SIGKILL");
    if (process.env.MONITORING_LAB_KEEP) console.log(`      kept ${this.dir}`);
    else fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export { EXPORTERS, TARGET_LABELS, TEXTFILE_DIR, type Balancer };
