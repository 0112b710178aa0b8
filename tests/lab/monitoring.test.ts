/**
 * Alerts proven live (issue 11 §3): the dev plan's fabric (real FRR) and front tier (real
 * Nginx + keepalived) in network namespaces, the estate's exporters from the Debian
 * packages with the planned flags, a real Prometheus with the planned rule groups and the
 * planned ScrapeConfigs' targets, a real Alertmanager and a webhook receiver. The lab's
 * failures are injected and the notifications timed at the webhook:
 *   - a leaf silently blackholed (the fabric lab's nftables drop): BGP session / BFD peer
 *     alerts from its peers' FRR exporters, the host-down alert for the leaf itself;
 *   - the master balancer lost (the front-tier lab's partition, and its management port
 *     cut): the host-down alert for it, the VRRP alert from the balancer that took over;
 *   - Nginx stopped on the backup balancer: the Nginx-down alert (and the VRRP alert: the
 *     Nginx check puts keepalived in FAULT).
 * Prints `figure monitoring.<alert>.<injection>.<firing|resolved> <s> s` (failure or
 * recovery to the webhook's receipt), every substitution against the plan, and the
 * allow-list of metric names the lab cannot expose. Needs root; never skips.
 */
import { strict as assert } from "assert";
import { metricNames } from "../../components/monitoring/dashboards";
import { planStack } from "../helpers/plan";
import { requireTool } from "../helpers/tools";
import * as fabricLab from "./fabric-lab";
import * as frontendLab from "./frontend-lab";
import {
  cleanupStale,
  LAB_INTERVAL_S,
  LAB_SCRAPE_S,
  MIN_RANGE_S,
  labGroups,
  MonitoringLab,
  PLANNED_EVALUATION_S,
  promScrapeConfigs,
  type Rule,
  type RuleGroup,
  type ScrapeConfigObject,
  seconds,
  TARGET_LABELS,
} from "./monitoring-lab";
import * as planned from "./monitoring-planned";

const STACK = "dev";

const TOOLS: [string, string][] = [
  ["prometheus", "prometheus"],
  ["promtool", "prometheus"],
  ["prometheus-alertmanager", "prometheus-alertmanager"],
  ["amtool", "prometheus-alertmanager"],
  ["prometheus-node-exporter", "prometheus-node-exporter"],
  ["prometheus-frr-exporter", "prometheus-frr-exporter"],
  ["prometheus-nginx-exporter", "prometheus-nginx-exporter"],
  ["/usr/lib/frr/zebra", "frr"],
  ["/usr/lib/frr/bgpd", "frr"],
  ["/usr/lib/frr/bfdd", "frr"],
  ["vtysh", "frr"],
  ["nginx", "nginx"],
  ["keepalived", "keepalived"],
  ["nft", "nftables"],
  ["ip", "iproute2"],
  ["curl", "curl"],
];

/** How long after the failure (or recovery) the lab expects the condition itself to be visible, by injection. */
const DETECT_S = { leaf_blackhole: 1, master_lost: 4, nginx_stop: 1 } as const;
const RECOVER_S = { leaf_blackhole: 6, master_lost: 4, nginx_stop: 3 } as const;
type Injection = keyof typeof DETECT_S;

function figure(name: string, s: number): void {
  console.log(`figure ${name} ${s.toFixed(2)} s`);
}

describe(`monitoring lab (${STACK}): planned exporters, rules and scrape targets; alerts fire and resolve`, function () {
  this.timeout(300000);
  let lab: MonitoringLab | undefined;
  let alerts: Rule[] = [];
  /** Every planned rule (alerts and recording rules), unscaled. */
  let rules: Rule[] = [];
  let labRules: Rule[] = [];

  const onSignal = (sig: NodeJS.Signals): void => {
    lab?.teardown();
    process.exit(sig === "SIGINT" ? 130 : 143);
  };

  before(async function () {
    if (process.getuid?.() !== 0) throw new Error("the monitoring lab needs root (network namespaces)");
    for (const [cmd, pkg] of TOOLS) requireTool(cmd, pkg);
    fabricLab.cleanupStale();
    frontendLab.cleanupStale();
    cleanupStale();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);

    const plan = planStack(STACK);
    const l = new MonitoringLab(STACK, plan);
    lab = l;
    l.build();
    const t0 = Date.now();

    // The fabric: planned frr.conf per switch and server.
    l.fabric.start(new Map(plan.ofKind("frr").map((e) => [e.target, plan.artifact(e.path)])));
    // The front tier: planned nginx.conf, keepalived.conf, check and filter; backends.
    for (const u of l.frontend.upstreams) l.frontend.startBackend(u);
    const textfile = new Map<string, string>();
    for (const b of l.frontend.balancers) {
      textfile.set(b.name, `${l.hostDir(b.name)}/textfile`);
      l.frontend.prepareBalancer(b, planned.keepalivedSubstitutions(plan, b, textfile.get(b.name)!, l));
      l.frontend.loadFilter(b);
      l.frontend.startNginx(b);
    }
    for (const b of l.frontend.balancers) l.frontend.startKeepalived(b);
    l.fabric.waitConverged(t0);
    await l.frontend.waitForMaster(15000);

    // Exporters, with the planned flags: node and FRR on every switch and server (the node
    // exporter of a balancer runs in its front-tier namespace, where keepalived writes the
    // VRRP state), Nginx on the balancers.
    const balancers = new Set(l.frontend.balancers.map((b) => b.name));
    for (const n of [...l.fabric.spines, ...l.fabric.leaves, ...l.fabric.servers]) {
      const ns = l.fabric.ns(n);
      planned.startFrrExporter(l, plan, n, ns, `${l.fabric.root}/${n}`);
      if (!balancers.has(n)) planned.startNodeExporter(l, plan, n, ns, `${l.hostDir(n)}/textfile`);
    }
    for (const b of l.frontend.balancers) {
      planned.startNodeExporter(l, plan, b.name, b.ns, textfile.get(b.name)!);
      planned.startNginxExporter(l, plan, b.name, b.ns);
    }
    l.waitExporters();

    // Prometheus: the planned ScrapeConfigs' targets at the lab's addresses, the planned rules scaled.
    const configs: ScrapeConfigObject[] = planned.scrapeConfigs(plan);
    const groups: RuleGroup[] = planned.ruleGroups(plan);
    const scaled = labGroups(groups, (s) => l.note(s));
    rules = groups.flatMap((g) => g.rules);
    alerts = rules.filter((r) => r.alert);
    labRules = scaled.flatMap((g) => g.rules);
    l.note(
      `intervals: scrape 30s / evaluation ${PLANNED_EVALUATION_S}s -> ${LAB_SCRAPE_S}s / ${LAB_INTERVAL_S}s (scrape_timeout ${LAB_SCRAPE_S}s); for: and range windows x ${LAB_INTERVAL_S}/${PLANNED_EVALUATION_S} (ranges at least ${MIN_RANGE_S}s)`,
    );
    const byHostJob = new Map(l.exporters.map((e) => [`${e.host}\0${e.job}`, e.address]));
    const hostOf = planned.hostByAddress(plan);
    const scrape = promScrapeConfigs(configs, (t) => {
      const host = t.labels[TARGET_LABELS.host] ?? hostOf.get(t.planned.split(":")[0]);
      const a = host === undefined ? undefined : byHostJob.get(`${host}\0${t.job}`);
      l.note(
        a === undefined
          ? `target ${t.job} ${t.planned} (${host ?? "?"}): not scraped (nothing runs it in this lab)`
          : `target ${t.job} ${t.planned} (${host}) -> ${a} (instance label kept)`,
      );
      return a;
    });
    l.startMonitoring({ scrape_configs: scrape }, { groups: scaled });
    l.waitReady();
    for (const s of l.substitutions) console.log(`      substitution: ${s}`);

    const problem = await healthy(l, 60000);
    assert.equal(problem, undefined, `the lab did not get healthy: ${problem}\n${l.logs()}`);
    figure(`monitoring.${STACK}.healthy`, (Date.now() - t0) / 1000);
  });

  after(function () {
    lab?.teardown();
    lab = undefined;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  });

  /**
   * Alert rules whose expression selects `metric`; for `up`, only those that fire on a
   * target that is down (`up... == 0`), not the ones on missing targets (`absent`) or on
   * targets that are up (the etcd snapshot alert joins `up == 1`).
   */
  function alertsOn(metric: string): Rule[] {
    return alerts.filter(
      (r) =>
        metricNames(String(r.expr)).includes(metric) &&
        (metric !== "up" || /\bup\{[^}]*\}\s*==\s*0/.test(String(r.expr))),
    );
  }
  /** The alerts the injections wait for: none may fire while the lab is healthy. */
  function watchedAlerts(): string[] {
    return ["frr_bgp_peer_state", "frr_bfd_peer_state", "nginx_up", "estate_vrrp_state", "up"].flatMap((m) =>
      alertsOn(m).map((r) => r.alert!),
    );
  }

  /**
   * Undefined when the lab is healthy: every exporter up, every BGP session and BFD peer up,
   * Nginx up on every balancer, none of the watched alerts firing; else the first problem.
   */
  async function healthy(l: MonitoringLab, limitMs: number): Promise<string | undefined> {
    const want = (l.plan.outputs.fabric as { links: unknown[] }).links.length * 2;
    const balancers = l.frontend.balancers.length;
    return l.until(() => {
      const down = l.query("up == 0").map((r) => `${r.metric.job} ${r.metric.instance}`);
      if (down.length) return `targets down: ${down.join(", ")}\n  ${l.targetErrors().join("\n  ")}`;
      const up = l.query("up").length;
      if (up !== l.exporters.length) return `${up}/${l.exporters.length} targets scraped`;
      const bgp = l.query("frr_bgp_peer_state == 1").length;
      const bfd = l.query("frr_bfd_peer_state == 1").length;
      if (bgp !== want || bfd !== want) return `${bgp}/${want} BGP sessions, ${bfd}/${want} BFD peers up`;
      const nginx = l.query("nginx_up == 1").length;
      if (nginx !== balancers) return `nginx_up == 1 on ${nginx}/${balancers} balancers`;
      const firing = l.query('ALERTS{alertstate="firing"}').map((r) => r.metric.alertname);
      const watched = firing.filter((a) => watchedAlerts().includes(a));
      if (watched.length) return `firing: ${[...new Set(watched)].join(", ")}`;
      return undefined;
    }, limitMs);
  }
  function labRule(alert: string): Rule {
    return labRules.find((r) => r.alert === alert)!;
  }
  /** The longest range window of an alert's lab expression (what keeps a change-based alert firing). */
  function window(alert: string): number {
    return Math.max(0, ...[...String(labRule(alert).expr).matchAll(/\[(\d[\dmshdwy]*)/g)].map((m) => seconds(m[1])));
  }

  interface Expect {
    /** The metric the alert must select. */
    readonly metric: string;
    /** Labels of the alert the failure must raise (host, instance). */
    readonly match: (labels: Record<string, string>) => boolean;
    readonly what: string;
  }

  /** The expected pipeline latency in front of an alert: a scrape (and its timeout), two evaluations, group_wait. */
  const PIPELINE_S = 2 * LAB_SCRAPE_S + 2 * LAB_INTERVAL_S + 1;

  function fingerprint(labels: Record<string, string>): string {
    return JSON.stringify(Object.entries(labels).sort());
  }

  /**
   * Makes sure the lab is healthy (every target up, none of the watched alerts firing),
   * injects, waits for each expectation's alerts to fire, recovers, and waits until every
   * alert that fired sent its resolved notification; prints the figures (firing: the first
   * notification; resolved: the last alert of that name to resolve) and checks the bounds:
   * twice the expected latency (the condition's detection, the pipeline, the alert's `for:`,
   * or its range window when resolving).
   */
  async function prove(
    injection: Injection,
    expects: readonly Expect[],
    inject: () => void,
    recover: () => void,
  ): Promise<void> {
    const l = lab!;
    assert.equal(await healthy(l, 90000), undefined, `the lab is not healthy before ${injection}`);
    const fired = new Map<string, Expect["match"]>();
    const t0 = Date.now() / 1000;
    let t1 = t0;
    inject();
    try {
      for (const e of expects) {
        const candidates = alertsOn(e.metric).map((r) => r.alert!);
        assert.ok(candidates.length, `no planned alert selects ${e.metric}`);
        const forOf = (a: string): number => seconds(labRule(a).for ?? "0s");
        const limit = 2 * (DETECT_S[injection] + PIPELINE_S + Math.max(...candidates.map(forOf)));
        const got = await l.waitAny(candidates, "firing", t0, limit * 1000, e.match);
        assert.ok(
          got.size,
          `${injection}: no alert on ${e.metric} (${candidates.join(", ")}) fired for ${e.what} within ${limit} s\n${l.logs()}`,
        );
        for (const [a, t] of got) {
          if (fired.has(a)) continue;
          const bound = 2 * (DETECT_S[injection] + PIPELINE_S + forOf(a));
          figure(`monitoring.${a}.${injection}.firing`, t - t0);
          assert.ok(t - t0 <= bound, `${a} fired ${(t - t0).toFixed(2)} s after ${injection}, bound ${bound} s`);
          fired.set(a, e.match);
        }
      }
    } finally {
      t1 = Date.now() / 1000;
      recover();
    }
    // Settled: no instance of an alert that fired is still firing in Prometheus, and every
    // instance notified since the failure has its resolved notification; held for one
    // pipeline latency, so that a transition the recovery itself causes (VRRP preemption)
    // is waited for too.
    const forOf = (a: string): number => seconds(labRule(a).for ?? "0s");
    const bound =
      2 * (RECOVER_S[injection] + PIPELINE_S + Math.max(...[...fired.keys()].map((a) => window(a) + forOf(a))));
    let stableSince: number | undefined;
    const open = (): string | undefined => {
      const last = new Map<string, "firing" | "resolved">();
      for (const n of l.notifications())
        if (n.t >= t0 && fired.has(n.labels.alertname) && fired.get(n.labels.alertname)!(n.labels))
          last.set(fingerprint(n.labels), n.status);
      const notified = [...last].filter(([, st]) => st === "firing").map(([f]) => f);
      const active = l
        .query(`ALERTS{alertstate="firing",alertname=~"${[...fired.keys()].join("|")}"}`)
        .filter((r) => fired.get(r.metric.alertname)!(r.metric))
        .map((r) => r.metric.alertname);
      if (notified.length || active.length) {
        stableSince = undefined;
        return `still firing: ${[...new Set(active)].join(", ")} ${notified.join(" ")}`;
      }
      stableSince ??= Date.now();
      return Date.now() - stableSince < PIPELINE_S * 1000 ? "settling" : undefined;
    };
    const left = await l.until(open, bound * 1000 + PIPELINE_S * 1000);
    assert.equal(left, undefined, `${injection}: not resolved within ${bound} s of the recovery`);
    for (const [alert, match] of fired) {
      const resolved = l
        .notifications()
        .filter((n) => n.t >= t0 && n.status === "resolved" && n.labels.alertname === alert && match(n.labels))
        .map((n) => n.t);
      assert.ok(resolved.length, `${alert}: no resolved notification`);
      const latest = Math.max(...resolved);
      // An alert on a change (a VRRP transition) may resolve by its window before the recovery.
      if (latest < t1) figure(`monitoring.${alert}.${injection}.resolved_before_recovery`, latest - t0);
      else {
        figure(`monitoring.${alert}.${injection}.resolved`, latest - t1);
        assert.ok(
          latest - t1 <= bound,
          `${alert} resolved ${(latest - t1).toFixed(2)} s after the recovery, bound ${bound} s`,
        );
      }
    }
  }

  it("a leaf blackholed silently: BGP session and BFD peer alerts from its peers, host down for the leaf; all resolve", async function () {
    const l = lab!;
    const leaf = l.fabric.leaves[0];
    const loopback = l.fabric.loopback.get(leaf)!;
    const ofLeaf = (labels: Record<string, string>): boolean =>
      labels[TARGET_LABELS.host] === leaf || (labels.instance ?? "").startsWith(`${loopback}:`);
    await prove(
      "leaf_blackhole",
      [
        { metric: "frr_bgp_peer_state", match: () => true, what: `the sessions to ${leaf}` },
        { metric: "frr_bfd_peer_state", match: () => true, what: `the BFD peers of ${leaf}` },
        { metric: "up", match: ofLeaf, what: `${leaf}'s exporters` },
      ],
      () => l.fabric.blackhole(leaf),
      () => l.fabric.restore(leaf),
    );
  });

  it("the master balancer lost: host down for it, the VRRP alert from the balancer that took over; all resolve", async function () {
    const l = lab!;
    const master = await l.frontend.waitForMaster(5000);
    const backup = l.frontend.balancers.find((b) => b !== master)!;
    const ofMaster = (labels: Record<string, string>): boolean =>
      labels[TARGET_LABELS.host] === master.name || (labels.instance ?? "").startsWith(`${master.loopback}:`);
    await prove(
      "master_lost",
      [
        { metric: "up", match: ofMaster, what: `${master.name}'s exporters` },
        { metric: "estate_vrrp_state", match: () => true, what: `${backup.name} taking over` },
      ],
      () => {
        l.frontend.blackhole(master, true);
        l.cutMgmt(master.ns, true);
      },
      () => {
        l.frontend.blackhole(master, false);
        l.cutMgmt(master.ns, false);
      },
    );
  });

  it("Nginx stopped on a balancer: the Nginx-down and VRRP alerts; they resolve when Nginx is back", async function () {
    const l = lab!;
    const master = await l.frontend.waitForMaster(5000);
    const backup = l.frontend.balancers.find((b) => b !== master)!;
    const ofBackup = (labels: Record<string, string>): boolean =>
      labels[TARGET_LABELS.host] === backup.name || (labels.instance ?? "").startsWith(`${backup.loopback}:`);
    await prove(
      "nginx_stop",
      [
        { metric: "nginx_up", match: ofBackup, what: `Nginx on ${backup.name}` },
        {
          metric: "estate_vrrp_state",
          match: ofBackup,
          what: `${backup.name}'s keepalived in FAULT (the Nginx check)`,
        },
      ],
      () => l.frontend.stopNginx(backup),
      () => l.frontend.startNginx(backup),
    );
  });

  it("every dashboard query and rule expression uses metrics the lab exposes (except the allow-list)", function () {
    const l = lab!;
    const present = new Set(l.metricNames());
    const used = new Map<string, string[]>();
    const add = (name: string, where: string): void => {
      used.set(name, [...(used.get(name) ?? []), where]);
    };
    for (const r of rules) for (const m of metricNames(String(r.expr))) add(m, `rule ${r.alert ?? r.record}`);
    for (const d of planned.dashboardQueries(l.plan))
      for (const m of metricNames(d.expr)) add(m, `dashboard ${d.dashboard}`);
    const allowedBy = (m: string): string | undefined =>
      planned.ALLOWED_ABSENT.find(([p]) => new RegExp(`^${p}$`).test(m))?.[0];
    const missing = (names: Iterable<string>): string[] => [...names].filter((m) => !present.has(m) && !allowedBy(m));
    for (const [p, why] of planned.ALLOWED_ABSENT) {
      const covers = [...used.keys()].filter((m) => !present.has(m) && allowedBy(m) === p);
      console.log(`      allow-list: ${p}: ${why}; absent here and used: ${covers.join(", ") || "none"}`);
      assert.ok(covers.length, `allow-list entry ${p} covers no metric a rule or dashboard uses: remove it`);
    }
    const gone = missing(used.keys()).map((m) => `${m} (${[...new Set(used.get(m))].join(", ")})`);
    assert.deepEqual(gone, [], `metrics no exporter or rule in the lab exposes:\n  ${gone.join("\n  ")}`);
    assert.ok(used.size > 10, `only ${used.size} metric names found in rules and dashboards`);
    // The check catches a query on a metric nothing exposes (a misspelt name).
    assert.deepEqual(missing(metricNames('rate(node_cpu_second_total{job="node"}[5m])')), ["node_cpu_second_total"]);
  });
});
