/**
 * Live lab of the Ceph cluster configuration: a real mini Ceph (Debian's packages) per stack,
 * shaped by the stack's plan (see ceph-lab.ts), runs exactly the script rendered from
 * `estateOf(stack)` — the text the component sends — with only CEPH_CONF pointing at the lab.
 * Needs root (network namespace, loop devices); installs Debian's ceph packages when missing.
 * Under CI it fails rather than skips.
 *
 * Prints `figure ceph.<stack>.bootstrap_to_health_ok|first_run|second_run|drift_run <s> s`, and
 * `ceph.<stack>.osd_down.metric` (a stopped OSD's `ceph_osd_up` reads 0 at the manager) and
 * `ceph.<stack>.osd_up_again.metric` (1 again after its restart).
 */
import * as assert from "assert";
import * as fs from "fs";
import { cephPlanFor, type CephPlan } from "../../components/ceph/input";
import { csiCaps, renderCephConfigure, renderCephReadKeys } from "../../components/ceph/render";
import { estateOf } from "../helpers/config";
import { requireTool } from "../helpers/tools";
import { CephLab, cleanupStale, type ScriptRun } from "./ceph-lab";
import { sleep } from "./netns";

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** Clean HEALTH_OK bounds (measured 8-46 s from bootstrap; 2x room and more for a loaded machine). */
const HEALTH_TIMEOUT_MS = 240000;

function figure(name: string, seconds: number): void {
  console.log(`figure ${name} ${seconds.toFixed(1)} s`);
}

function changedLines(r: ScriptRun): string[] {
  return r.stdout.split("\n").filter((l) => l.length > 0);
}

function poolNames(l: CephLab): string[] {
  return l.cephJson<string[]>("osd", "pool", "ls");
}

function assertRan(r: ScriptRun, what: string): void {
  assert.equal(r.status, 0, `${what} exited ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  for (const l of changedLines(r)) assert.match(l, /^changed: /, `${what}: every stdout line is a change`);
}

interface PoolDetail {
  pool_name: string;
  crush_rule: number;
  size: number;
  min_size: number;
  pg_autoscale_mode: string;
  application_metadata: Record<string, unknown>;
}

/** What the script manages, read back from the cluster (keys excluded). */
function snapshot(lab: CephLab): unknown {
  const rules = lab.cephJson<{ rule_id: number; rule_name: string; steps: unknown[] }[]>(
    "osd",
    "crush",
    "rule",
    "dump",
  );
  const pools = lab.cephJson<PoolDetail[]>("osd", "pool", "ls", "detail");
  const tree = lab.cephJson<{ nodes: { id: number; type: string; device_class?: string }[] }>("osd", "tree");
  const auth = lab.cephJson<{ caps: Record<string, string> }[]>("auth", "get", "client.kubernetes");
  const config = lab.cephJson<{ section: string; name: string; value: string }[]>("config", "dump");
  return {
    rules: rules.map((r) => ({ id: r.rule_id, name: r.rule_name, steps: r.steps })),
    pools: pools
      .map((p) => [
        p.pool_name,
        p.crush_rule,
        p.size,
        p.min_size,
        p.pg_autoscale_mode,
        Object.keys(p.application_metadata),
      ])
      .sort(),
    classes: tree.nodes.filter((n) => n.type === "osd").map((n) => [n.id, n.device_class]),
    caps: auth[0].caps,
    config: config.filter((c) => c.name.startsWith("mgr/prometheus/") || c.name === "osd_pool_default_crush_rule"),
  };
}

interface Keys {
  csiClient: string;
  csiKey: string;
  s3User: string | null;
  s3AccessKey: string;
  s3SecretKey: string;
}

async function readKeys(lab: CephLab): Promise<Keys> {
  const r = await lab.runScript(renderCephReadKeys(lab.plan.configure));
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  return JSON.parse(r.stdout) as Keys;
}

/** Which OSD ids the lab created for which class (ids are handed out in the lab's order). */
function osdIdsOf(lab: CephLab, deviceClass: string): number[] {
  return lab.osds.map((o, i) => (o.deviceClass === deviceClass ? i : -1)).filter((i) => i >= 0);
}

function ruleIdByName(lab: CephLab): Map<string, number> {
  const rules = lab.cephJson<{ rule_id: number; rule_name: string }[]>("osd", "crush", "rule", "dump");
  return new Map(rules.map((r) => [r.rule_name, r.rule_id]));
}

/** The model's state, asserted on the live cluster. */
function assertModelState(lab: CephLab, plan: CephPlan): void {
  const c = plan.configure;
  const rules = lab.cephJson<
    { rule_id: number; rule_name: string; steps: { op: string; item_name?: string; type?: string }[] }[]
  >("osd", "crush", "rule", "dump");
  for (const r of c.rules) {
    const have = rules.find((x) => x.rule_name === r.name);
    assert.ok(have, `rule ${r.name} exists`);
    assert.deepEqual(
      have.steps
        .filter((s) => s.op !== "emit")
        .map((s) => (s.op === "take" ? `take ${s.item_name}` : `${s.op} ${s.type}`)),
      [`take default~${r.deviceClass}`, "chooseleaf_firstn host"],
    );
  }
  const ids = ruleIdByName(lab);
  const pools = lab.cephJson<PoolDetail[]>("osd", "pool", "ls", "detail");
  for (const p of c.pools) {
    const have = pools.find((x) => x.pool_name === p.name);
    assert.ok(have, `pool ${p.name} exists`);
    assert.deepEqual(
      [have.crush_rule, have.size, have.min_size, have.pg_autoscale_mode, Object.keys(have.application_metadata)],
      [ids.get(p.rule), p.size, p.minSize, "on", ["rbd"]],
      `pool ${p.name}`,
    );
  }
  // Every pool (the manager's own: device_health_metrics on 16, .mgr on 17+; RGW's) on a class rule.
  const classRuleIds = new Set(c.rules.map((r) => ids.get(r.name)));
  assert.ok(
    pools.some((p) => p.pool_name === "device_health_metrics" || p.pool_name === ".mgr"),
    "the manager's pool exists",
  );
  for (const p of pools) assert.ok(classRuleIds.has(p.crush_rule), `pool ${p.pool_name} is on a class rule`);
  // Device classes as planned.
  const tree = lab.cephJson<{
    nodes: { id: number; type: string; name: string; device_class?: string; children?: number[] }[];
  }>("osd", "tree");
  lab.osds.forEach((o, i) => {
    const n = tree.nodes.find((x) => x.type === "osd" && x.id === i);
    const host = tree.nodes.find((x) => x.type === "host" && (x.children ?? []).includes(i));
    assert.deepEqual([host?.name, n?.device_class], [o.host, o.deviceClass], `osd.${i}`);
  });
  // CSI client caps: RBD on the model's pools only.
  const auth = lab.cephJson<{ caps: Record<string, string> }[]>("auth", "get", c.csi.client);
  assert.deepEqual(auth[0].caps, { ...csiCaps(c.csi.pools) });
  // Prometheus bound per manager; module enabled.
  const cfg = lab.cephJson<{ section: string; name: string; value: string }[]>("config", "dump");
  const opt = (k: string): string | undefined => cfg.find((x) => x.section === "mgr" && x.name === k)?.value;
  assert.equal(opt(`mgr/prometheus/${lab.mgrName}/server_addr`), lab.mgrAddress);
  assert.equal(opt(`mgr/prometheus/${lab.mgrName}/server_port`), String(c.prometheus.port));
  assert.ok(lab.cephJson<{ enabled_modules: string[] }>("mgr", "module", "ls").enabled_modules.includes("prometheus"));
  // RGW user.
  if (c.rgw) {
    const users = JSON.parse(lab.exec("radosgw-admin", ["--conf", lab.conf, "user", "list"])) as string[];
    assert.ok(users.includes(c.rgw.user), `rgw user ${c.rgw.user} exists`);
  }
}

/** The autoscaler considers every pool (pools on overlapping roots are left out of autoscale-status). */
async function assertAutoscalerSeesEveryPool(lab: CephLab): Promise<void> {
  let missing: string[] = [];
  for (let i = 0; i < 40; i++) {
    const pools = lab.cephJson<PoolDetail[]>("osd", "pool", "ls", "detail").map((p) => p.pool_name);
    const seen = new Set(
      lab.cephJson<{ pool_name: string }[]>("osd", "pool", "autoscale-status").map((p) => p.pool_name),
    );
    missing = pools.filter((p) => !seen.has(p));
    if (!missing.length) return;
    await sleep(1500);
  }
  assert.fail(`the autoscaler leaves out pools ${missing.join(", ")} (overlapping roots?)`);
}

for (const stack of ["dev", "prod"] as const) {
  describe(`ceph lab: ${stack}`, function () {
    this.timeout(HEALTH_TIMEOUT_MS + 300000);
    const plan = cephPlanFor(estateOf(stack));
    const script = renderCephConfigure(plan.configure);
    let lab: CephLab | undefined;
    let firstRun: ScriptRun | undefined;
    const onSignal = (): void => {
      lab?.teardown();
      process.exit(130);
    };

    before(async function () {
      if (!isRoot) {
        if (process.env.CI)
          throw new Error("the ceph lab needs root (network namespace, loop devices); CI must run it as root");
        this.skip();
      }
      // Package scripts must not start daemons (no systemd here): policy-rc.d says no.
      if (!fs.existsSync("/usr/sbin/policy-rc.d"))
        fs.writeFileSync("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", { mode: 0o755 });
      for (const [cmd, pkg] of [
        ["ceph-mon", "ceph-mon"],
        ["ceph-mgr", "ceph-mgr"],
        ["ceph-osd", "ceph-osd"],
        ["ceph", "ceph-common"],
        ["radosgw", "radosgw"],
        ["jq", "jq"],
        ["curl", "curl"],
        ["losetup", "mount"],
      ])
        requireTool(cmd, pkg);
      cleanupStale();
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
      const t0 = Date.now();
      lab = new CephLab(stack, plan);
      await lab.up();
      await lab.waitCleanHealth(HEALTH_TIMEOUT_MS);
      figure(`ceph.${stack}.bootstrap_to_health_ok`, (Date.now() - t0) / 1000);
      // The manager creates its pool once OSDs are up (cephadm's bootstrap: before any later
      // step). Wait for it, so the first run meets it on the plain root, as on a real cluster.
      for (let i = 0; ; i++) {
        const pools = lab.cephJson<string[]>("osd", "pool", "ls");
        if (pools.includes("device_health_metrics") || pools.includes(".mgr")) break;
        if (i >= 60) throw new Error(`the manager created no pool within 60 s: ${pools.join(", ")}`);
        await sleep(1000);
      }
    });

    after(() => {
      process.removeListener("SIGINT", onSignal);
      process.removeListener("SIGTERM", onSignal);
      lab?.teardown();
      lab = undefined;
    });

    it("plans a lab the pools fit: each pool's size on distinct hosts of its class", () => {
      const l = lab!;
      for (const p of plan.configure.pools) {
        const cls = plan.configure.rules.find((r) => r.name === p.rule)!.deviceClass;
        const hosts = new Set(l.osds.filter((o) => o.deviceClass === cls).map((o) => o.host));
        assert.ok(hosts.size >= p.size, `${p.name}: ${hosts.size} hosts with ${cls} for size ${p.size}`);
      }
      assert.ok(l.osds.length >= 4);
    });

    it("first run creates what the model says and ends at a clean HEALTH_OK", async () => {
      const l = lab!;
      const c = plan.configure;
      const r = await l.runScript(script);
      firstRun = r;
      assertRan(r, "first run");
      figure(`ceph.${stack}.first_run`, r.seconds);
      const lines = changedLines(r);
      const expect = [
        ...c.rules.map(
          (x) => `changed: crush rule ${x.name} created: take default~${x.deviceClass}, failure domain host`,
        ),
        ...c.pools.map((p) => `changed: pool ${p.name} created on rule ${p.rule}`),
        ...c.pools.map((p) => `changed: pool ${p.name} initialised for rbd`),
        `changed: mgr module prometheus enabled`,
        ...(c.rgw
          ? [`changed: rgw user ${c.rgw.user} created`, `changed: rgw bucket ${c.rgw.bucket} created for ${c.rgw.user}`]
          : []),
      ];
      for (const e of expect) assert.ok(lines.includes(e), `missing '${e}' in:\n${r.stdout}`);
      assert.ok(lines.some((x) => x.startsWith(`changed: ${c.csi.client} created with caps `)));
      // Flash OSDs booted as 'ssd' (Ceph's guess for a non-rotational device): each is set to the model's class.
      for (const rule of c.rules.filter((x) => x.deviceClass !== "hdd" && x.deviceClass !== "ssd"))
        for (const id of osdIdsOf(l, rule.deviceClass))
          assert.ok(
            lines.some(
              (x) => x.startsWith(`changed: osd.${id} `) && x.endsWith(`device class 'ssd' -> '${rule.deviceClass}'`),
            ),
            `osd.${id} set to ${rule.deviceClass}:\n${r.stdout}`,
          );
      // The manager's pool (and RGW's) moved onto the default class rule.
      assert.ok(
        lines.some((x) => /^changed: pool (device_health_metrics|\.mgr) crush_rule 'replicated_rule' -> /.test(x)),
        r.stdout,
      );
      assertModelState(l, plan);
      await assertAutoscalerSeesEveryPool(l);
      const t0 = Date.now();
      await l.waitCleanHealth(HEALTH_TIMEOUT_MS);
      figure(`ceph.${stack}.first_run_to_health_ok`, (Date.now() - t0) / 1000);
      const pgs = l.ceph("pg", "dump_stuck", "undersized");
      assert.doesNotMatch(pgs, /undersized/, "no undersized PGs");
    });

    it("second run prints nothing and changes nothing", async () => {
      const l = lab!;
      const before = snapshot(l);
      const r = await l.runScript(script);
      assertRan(r, "second run");
      figure(`ceph.${stack}.second_run`, r.seconds);
      assert.equal(r.stdout, "", "second run stdout");
      assert.equal(r.stderr, "", "second run stderr");
      assert.deepEqual(snapshot(l), before);
    });

    it("repairs drift: min_size, widened caps, a wrong device class, a pool's rule", async () => {
      const l = lab!;
      const c = plan.configure;
      const first = c.pools[0];
      const last = c.pools[c.pools.length - 1];
      // A flash OSD on a host with most classes (prod: a mixed host, mapped by its rotational flag).
      const flash = c.rules.find((x) => x.deviceClass !== "hdd")!.deviceClass;
      const victim = osdIdsOf(l, flash).sort((a, b) => {
        const n = (i: number): number =>
          new Set(l.osds.filter((o) => o.host === l.osds[i].host).map((o) => o.deviceClass)).size;
        return n(b) - n(a) || a - b;
      })[0];
      const wrong = flash === "nvme" ? "ssd" : "nvme";
      l.ceph("osd", "pool", "set", first.name, "min_size", "1");
      l.ceph("auth", "caps", c.csi.client, "mon", "allow *", "osd", "allow *", "mgr", "allow *");
      l.ceph("osd", "crush", "rm-device-class", `osd.${victim}`);
      l.ceph("osd", "crush", "set-device-class", wrong, `osd.${victim}`);
      l.ceph("osd", "pool", "set", last.name, "crush_rule", "replicated_rule");
      const want = csiCaps(c.csi.pools);
      const r = await l.runScript(script);
      assertRan(r, "drift run");
      figure(`ceph.${stack}.drift_run`, r.seconds);
      assert.deepEqual(
        changedLines(r).sort(),
        [
          `changed: ${c.csi.client} caps {"mgr":"allow *","mon":"allow *","osd":"allow *"} -> ${JSON.stringify({ mgr: want.mgr, mon: want.mon, osd: want.osd })}`,
          `changed: osd.${victim} (host ${l.osds[victim].host}) device class '${wrong}' -> '${flash}'`,
          `changed: pool ${first.name} min_size 1 -> ${first.minSize}`,
          `changed: pool ${last.name} crush_rule 'replicated_rule' -> '${last.rule}'`,
        ].sort(),
      );
      assertModelState(l, plan);
      const again = await l.runScript(script);
      assertRan(again, "run after the repair");
      assert.equal(again.stdout + again.stderr, "", "nothing left to repair");
      await l.waitCleanHealth(HEALTH_TIMEOUT_MS);
    });

    it("keeps an estate pool that left the model, and deletes it only when the model allows", async () => {
      const l = lab!;
      l.ceph("osd", "pool", "create", "kube-retired", "8", "8", "replicated", plan.configure.defaultRule);
      l.ceph("osd", "pool", "application", "enable", "kube-retired", "rbd");
      const kept = await l.runScript(script);
      assertRan(kept, "run with a retired pool");
      assert.equal(kept.stdout, "", "keeping changes nothing");
      assert.match(kept.stderr, /kept: pool kube-retired left the model; its data stays/);
      assert.ok(poolNames(l).includes("kube-retired"), "the retired pool is still there");
      const allowing = renderCephConfigure({ ...plan.configure, deleteRemovedPools: true });
      const deleted = await l.runScript(allowing);
      assertRan(deleted, "run that may delete");
      assert.deepEqual(changedLines(deleted), [
        "changed: pool kube-retired deleted: it left the model and estate:ceph.allowDataDeletion is true",
      ]);
      assert.ok(!poolNames(l).includes("kube-retired"), "the retired pool is gone");
      const again = await l.runScript(script);
      assertRan(again, "run after the deletion");
      assert.equal(again.stdout + again.stderr, "", "nothing left to do");
    });

    it("reads the keys back as JSON, and no change log ever carried them", async () => {
      const l = lab!;
      const keys = await readKeys(l);
      assert.equal(keys.csiClient, plan.configure.csi.client);
      assert.match(keys.csiKey, /^[A-Za-z0-9+/]{38}==$/);
      assert.equal(keys.s3User, plan.configure.rgw?.user);
      assert.ok(keys.s3AccessKey.length >= 16 && keys.s3SecretKey.length >= 32);
      for (const secret of [keys.csiKey, keys.s3SecretKey])
        assert.ok(!(firstRun!.stdout + firstRun!.stderr).includes(secret), "the first run's output carries no secret");
    });

    it("the S3 endpoint takes a PUT and a GET in the planned bucket with the backup user's keys", async () => {
      const l = lab!;
      const rgw = plan.configure.rgw;
      assert.ok(l.rgw && rgw, "the plan has a cold tier and an RGW host");
      const keys = await readKeys(l);
      const base = `http://${rgw.endpoint.address}:${rgw.endpoint.port}/${rgw.bucket}`;
      // The keys reach curl through its config on stdin, never its command line.
      const curl = (method: string, url: string, data?: string): string => {
        const cfg = `user = "${keys.s3AccessKey}:${keys.s3SecretKey}"\n`;
        const args = ["-fsS", "--aws-sigv4", "aws:amz:us-east-1:s3", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"];
        args.push("-K", "-", "-X", method);
        if (data !== undefined) args.push("--data-binary", data);
        return l.exec("curl", [...args, url], cfg);
      };
      const body = `estate ${stack} backup ${process.pid}`;
      curl("PUT", `${base}/hello.txt`, body);
      assert.equal(curl("GET", `${base}/hello.txt`), body);
    });

    /** The manager's metrics until `done` holds for them (polled every second); the seconds it took. */
    async function metricsUntil(
      done: (text: string) => string | undefined,
      timeoutMs: number,
    ): Promise<{ text: string; seconds: number }> {
      const l = lab!;
      const url = `http://${l.mgrAddress}:${plan.configure.prometheus.port}/metrics`;
      const t0 = Date.now();
      let last = "";
      while (Date.now() - t0 < timeoutMs) {
        try {
          const text = l.exec("curl", ["-fsS", "--max-time", "10", url]);
          const missing = done(text);
          if (missing === undefined) return { text, seconds: (Date.now() - t0) / 1000 };
          last = missing;
        } catch (e) {
          last = (e as Error).message;
        }
        await sleep(1000);
      }
      assert.fail(`${url} within ${timeoutMs / 1000} s: ${last}`);
    }

    /** `ceph_osd_up` by OSD id (the prometheus module labels each series `ceph_daemon="osd.N"`). */
    function osdUp(text: string): Map<number, number> {
      const out = new Map<number, number>();
      for (const m of text.matchAll(/^ceph_osd_up\{ceph_daemon="osd\.(\d+)"\} (\S+)$/gm))
        out.set(Number(m[1]), Number(m[2]));
      return out;
    }

    /** Why the OSDs are not as `want` says (id -> 0/1; every lab OSD has one series), or undefined. */
    function osdsAre(want: (id: number) => number): (text: string) => string | undefined {
      return (text) => {
        const up = osdUp(text);
        const ids = lab!.osds.map((_, i) => i);
        const got = JSON.stringify([...up].sort((a, b) => a[0] - b[0]));
        const wanted = JSON.stringify(ids.map((i) => [i, want(i)]));
        return got === wanted ? undefined : `ceph_osd_up ${got}, want ${wanted}`;
      };
    }

    it("the manager's Prometheus endpoint answers with ceph_health_status and ceph_osd_up on the planned address", async () => {
      await metricsUntil((text) => {
        if (!/^ceph_health_status \d/m.test(text)) return "no ceph_health_status line";
        return osdsAre(() => 1)(text);
      }, 60000);
    });

    it("a stopped OSD shows ceph_osd_up 0, and 1 again once restarted", async () => {
      const l = lab!;
      const victim = l.osds.length - 1;
      await l.stopOsd(victim);
      try {
        const down = await metricsUntil(
          osdsAre((i) => (i === victim ? 0 : 1)),
          180000,
        );
        figure(`ceph.${stack}.osd_down.metric`, down.seconds);
      } finally {
        l.startOsd(victim);
      }
      const up = await metricsUntil(
        osdsAre(() => 1),
        180000,
      );
      figure(`ceph.${stack}.osd_up_again.metric`, up.seconds);
    });
  });
}
