/**
 * Live lab of the front tier, from the plans of dev and prod (see frontend-lab.ts for the
 * topology and the exact substitutions). Needs root and Debian's nginx, keepalived,
 * nftables, curl and openssl; installs them when it can. Under CI it fails rather than skips.
 *
 * The failure cases run with every core kept busy (a busy loop per core), so the timers
 * are judged on a loaded machine. Prints, per stack:
 *   figure frontend.<stack>.start.settle_max <ms> ms                 (5 starts, same owner)
 *   figure frontend.<stack>.load.spurious_transitions <n> transitions
 *   figure frontend.<stack>.<nginx_stop|keepalived_stop|blackhole>.failover <ms> ms
 *   figure frontend.<stack>.<...>.failed_requests <n> requests
 *   figure frontend.<stack>.partition_heal.outage <ms> ms            (after the heal)
 *   figure frontend.<stack>.foreign_vrrp.vip_moves <n> moves         (and packets dropped)
 *   figure frontend.<stack>.keepalived_kill.duplicate_vips <n> addresses
 *   figure frontend.<stack>.keepalived_kill.failover <ms> ms
 *   figure frontend.<stack>.config_roll.failed_requests <n> requests
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { requireTool } from "../helpers/tools";
import { planStack } from "../helpers/plan";
import { analyzeProbe, type Balancer, type ProbeResult, cleanupStale, FrontendLab, sleep } from "./frontend-lab";

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/**
 * The issue's bound for a silent loss of the master and for loss of Nginx: < 1 s of failed
 * requests, in every run. Measured 0.4-0.7 s under load (3 adverts of 0.1 s + skew, then
 * the probe's 0.25 s timeout); the bound itself is the goal, so it is not widened.
 */
const FAILOVER_MS = 1000;
/** After a partition heals, clients reach the VIP again within 1 s (the issue's goal). */
const HEAL_MS = 1000;
/** How long the tier must hold still under load. */
const STEADY_MS = 8000;

type Mode = "nginx_stop" | "keepalived_stop" | "blackhole";

for (const stack of ["dev", "prod"] as const) {
  describe(`front tier lab: ${stack}`, function () {
    this.timeout(120000);
    let lab: FrontendLab | undefined;

    before(function () {
      if (!isRoot) {
        if (process.env.CI)
          throw new Error("the front-tier lab needs root (network namespaces); CI must run it as root");
        this.skip();
      }
      // Packages (apt-get install when missing). Without systemd, package scripts would start
      // the daemons in the host namespace: forbid that first (lab notes).
      const tools: [string, string][] = [
        ["nginx", "nginx"],
        ["keepalived", "keepalived"],
        ["nft", "nftables"],
        ["curl", "curl"],
        ["openssl", "openssl"],
      ];
      const missing = tools.filter(([cmd]) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status !== 0);
      if (missing.length && !fs.existsSync("/usr/sbin/policy-rc.d"))
        fs.writeFileSync("/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", { mode: 0o755 });
      for (const [cmd, pkg] of tools) requireTool(cmd, pkg);
      cleanupStale();
      lab = new FrontendLab(stack, planStack(stack));
      const signalTeardown = (): void => {
        lab?.teardown();
        process.exit(130);
      };
      process.once("SIGINT", signalTeardown);
      process.once("SIGTERM", signalTeardown);
      lab.build();
      for (const u of lab.upstreams) lab.startBackend(u);
    });

    after(() => {
      lab?.teardown();
      lab = undefined;
    });

    it("plans one upstream per Kubernetes node and non-local bind on every balancer", () => {
      const l = lab!;
      const nodes = planStack(stack).outputs.nodes as { name: string; roles: string[]; loopback: string }[];
      const k8s = nodes.filter((n) => n.roles.includes("k8s-server") || n.roles.includes("k8s-agent"));
      assert.deepEqual(
        l.upstreams.map((u) => `${u.name} ${u.address}`).sort(),
        k8s.map((n) => `${n.name} ${n.loopback}`).sort(),
      );
      for (const b of l.balancers)
        // The node baseline sets it for role lb; the front tier's setup runs after it.
        assert.match(planStack(stack).artifact(`nodes/${b.name}/baseline.sh`), /^net\.ipv4\.ip_nonlocal_bind = 1$/m);
    });

    it("nginx -t, keepalived -t and nft -c pass on the planned files", () => {
      const l = lab!;
      for (const b of l.balancers) {
        l.prepareBalancer(b);
        l.nginxCheck(b);
        l.keepalivedCheck(b);
        l.exec(b.ns, `nft -c -f ${b.dir}/vrrp-filter.nft`);
      }
      console.log(`      substituted: ${l.substituted.map(([a, b]) => `${a} -> ${b}`).join("; ")}`);
    });

    it("the planned VRRP filter loads idempotently: loaded twice, the same ruleset", () => {
      const l = lab!;
      for (const b of l.balancers) {
        const once = l.loadFilter(b);
        const twice = l.loadFilter(b);
        assert.equal(twice, once, `${b.name}: a second load changed the ruleset`);
        const peers = l.balancers.filter((p) => p !== b);
        assert.equal((once.match(/ accept /g) ?? []).length, peers.length, once);
        for (const p of peers) assert.ok(once.includes(`ip saddr ${p.address} `), `${b.name} admits ${p.name}`);
      }
    });

    it("five starts: the highest priority holds the VIP every time", async () => {
      const l = lab!;
      for (const b of l.balancers) l.startNginx(b);
      const expected = highest(l);
      let worst = 0;
      for (let i = 0; i < 5; i++) {
        // Alternate: all at once, and the lowest priority first (it becomes master first).
        const order = i % 2 ? [...l.balancers].sort((a, b) => a.priority - b.priority) : l.balancers;
        // The highest priority must end up alone with the VIP within 10 s and keep it.
        const settledMs = await startAll(l, order, i % 2 ? 300 : 0, 1000);
        assert.deepEqual(
          l.vipHolders().map((b) => b.name),
          [expected.name],
          `start ${i + 1}`,
        );
        worst = Math.max(worst, settledMs);
      }
      console.log(`figure frontend.${stack}.start.settle_max ${worst} ms`);
    });

    it("HTTPS through the VIP reaches every backend in turn, with the client address forwarded", () => {
      const l = lab!;
      const n = l.upstreams.length;
      // One connection (one worker): strict round robin over the upstreams.
      const urls = Array.from({ length: 2 * n }, () => l.httpsUrl());
      const out = l
        .curl([...l.curlTls(), ...urls])
        .trim()
        .split("\n");
      const names = out.map((line) => line.split(" ")[0]);
      for (const u of l.upstreams)
        assert.equal(names.filter((x) => x === u.name).length, 2, `${u.name} in ${names.join(", ")}`);
      for (let i = n; i < 2 * n; i++) assert.equal(names[i], names[i - n], "round robin repeats in the same order");
      assert.match(out[0], new RegExp(` xff=${l.clientAddress.replace(/\./g, "\\.")} proto=https$`));
    });

    it("HTTP redirects to HTTPS", () => {
      const l = lab!;
      const port = l.ports.http === 80 ? "" : `:${l.ports.http}`;
      const out = l.curl(["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", `http://${l.vip}${port}/a/b?c=1`]);
      const httpsPort = l.ports.https === 443 ? "" : `:${l.ports.https}`;
      assert.equal(out, `301 https://${l.vip}${httpsPort}/a/b?c=1`);
    });

    it("a dead backend is skipped without client errors", () => {
      const l = lab!;
      // Prefer a backend that is not on a balancer (dev co-locates them).
      const dead =
        [...l.upstreams].reverse().find((u) => !l.balancers.some((b) => b.name === u.name)) ?? l.upstreams[0];
      l.stopBackend(dead);
      try {
        const n = 3 * l.upstreams.length;
        const out = l.curl([...l.curlTls(), "-w", "%{http_code}\n", ...Array.from({ length: n }, () => l.httpsUrl())]);
        // Each reply: the backend's line, then the status code on its own line.
        const replies = [...out.matchAll(/^(\S+) xff=\S* proto=\S*\n(\d{3})$/gm)];
        assert.equal(replies.length, n, out);
        for (const [, backend, code] of replies) {
          assert.equal(code, "200", out);
          assert.notEqual(backend, dead.name);
        }
        // Separate connections too (other workers discover the failure themselves).
        for (let i = 0; i < 6; i++)
          assert.match(l.curl([...l.curlTls(), "-w", " %{http_code}", l.httpsUrl()]), / 200$/);
      } finally {
        l.startBackend(dead);
      }
    });

    describe("with every core busy", () => {
      before(() => lab?.startLoad());
      after(() => lab?.stopLoad());

      it("holds still: no VRRP transition while healthy", async () => {
        const l = lab!;
        const master = await resetVrrp(l);
        const before = l.balancers.map((b) => l.transitions(b).length);
        const t0 = Date.now();
        await sleep(STEADY_MS);
        const spurious = l.balancers.reduce((n, b, i) => n + l.transitions(b).length - before[i], 0);
        console.log(
          `figure frontend.${stack}.load.spurious_transitions ${spurious} transitions (${Date.now() - t0} ms loaded)`,
        );
        assert.equal(spurious, 0, l.diagnose());
        assert.deepEqual(
          l.vipHolders().map((b) => b.name),
          [master.name],
        );
      });

      for (const mode of ["nginx_stop", "keepalived_stop", "blackhole"] as Mode[]) {
        it(`fails the master (${mode}) and requests succeed again on the other balancer within 1 s`, async () => {
          const l = lab!;
          const master = await resetVrrp(l);
          const others = l.balancers.filter((b) => b !== master);
          const probeFile = path.join(l.dir, `probe-${mode}.log`);
          const probe = l.startProbe(probeFile);
          try {
            await sleep(500);
            const served = new Map(others.map((b) => [b.name, l.accessLines(b)]));
            const t0 = Date.now() / 1000;
            if (mode === "nginx_stop") l.stopNginx(master);
            else if (mode === "keepalived_stop") l.stopKeepalived(master);
            else l.blackhole(master, true);
            const next = await l.waitForMaster(8000, others);
            await waitServed(l, next, served.get(next.name) ?? 0);
            await sleep(500);
            const r = stopProbe(probe, probeFile, t0);
            console.log(`figure frontend.${stack}.${mode}.failover ${r.failoverMs} ms`);
            console.log(`figure frontend.${stack}.${mode}.failed_requests ${r.failed} requests`);
            assert.ok(r.okAfter >= 5, `only ${r.okAfter} successful requests after the failure`);
            assert.ok(
              l.accessLines(next) - (served.get(next.name) ?? 0) >= 5,
              `${next.name} (new master) served too few requests`,
            );
            assert.ok(
              r.failoverMs < FAILOVER_MS,
              `${mode}: failover took ${r.failoverMs} ms (t0 ${t0.toFixed(3)}; failed: ${r.failures.join(", ")})\n${l.diagnose()}`,
            );
            assert.match(l.keepalivedLog(next), /Entering MASTER STATE/, "the transition is logged");
          } finally {
            if (probe.exitCode === null) probe.kill("SIGKILL");
            l.blackhole(master, false);
          }
        });
      }

      it("a partition that heals: the highest priority holds the VIP and clients reach it within 1 s", async () => {
        const l = lab!;
        const master = await resetVrrp(l);
        const others = l.balancers.filter((b) => b !== master);
        const probeFile = path.join(l.dir, "probe-heal.log");
        const probe = l.startProbe(probeFile);
        try {
          // The master is cut off (links up, every packet dropped) and keeps the VIP where it
          // is; another balancer takes over and clients follow it.
          const servedBefore = new Map(others.map((b) => [b.name, l.accessLines(b)]));
          l.blackhole(master, true);
          const interim = await l.waitForMaster(8000, others);
          await waitServed(l, interim, servedBefore.get(interim.name) ?? 0);
          await sleep(1000);
          assert.ok(l.holdsVip(master), "the isolated master still holds the VIP (two masters)");
          // Heal.
          const t0 = Date.now() / 1000;
          const servedMaster = l.accessLines(master);
          l.blackhole(master, false);
          const end = Date.now() + 8000;
          while (Date.now() < end && l.vipHolders().length !== 1) await sleep(20);
          await waitServed(l, master, servedMaster);
          await sleep(1500);
          const r = stopProbe(probe, probeFile, t0);
          console.log(`figure frontend.${stack}.partition_heal.outage ${r.failoverMs} ms`);
          console.log(`figure frontend.${stack}.partition_heal.failed_requests ${r.failed} requests`);
          assert.deepEqual(
            l.vipHolders().map((b) => b.name),
            [master.name],
            "after the heal only the highest priority holds the VIP",
          );
          assert.ok(l.accessLines(master) - servedMaster >= 5, `${master.name} serves again after the heal`);
          assert.ok(r.okAfter >= 5, `only ${r.okAfter} successful requests after the heal`);
          assert.ok(
            r.failoverMs < HEAL_MS,
            `after the heal, requests failed for ${r.failoverMs} ms (t0 ${t0.toFixed(3)}; failed: ${r.failures.join(", ")})\n${l.diagnose()}`,
          );
        } finally {
          if (probe.exitCode === null) probe.kill("SIGKILL");
          l.blackhole(master, false);
        }
      });

      it("a foreign VRRP speaker (same VRID, priority 254) cannot take the VIP", async () => {
        const l = lab!;
        const master = await resetVrrp(l);
        const before = l.balancers.map((b) => l.transitions(b).length);
        const drops = l.balancers.map((b) => l.filterDrops(b));
        try {
          l.startForeign();
          const end = Date.now() + 5000;
          while (Date.now() < end && !l.foreignIsMaster()) await sleep(50);
          // It hears no one (the balancers advertise only to each other) and is master.
          assert.ok(l.foreignIsMaster(), "the foreign speaker runs");
          await sleep(2000);
          const moves = l.balancers.reduce((n, b, i) => n + l.transitions(b).length - before[i], 0);
          const dropped = l.balancers.map((b, i) => l.filterDrops(b) - drops[i]);
          console.log(`figure frontend.${stack}.foreign_vrrp.vip_moves ${moves} moves`);
          console.log(
            `figure frontend.${stack}.foreign_vrrp.dropped ${Math.min(...dropped)} packets (fewest on one balancer)`,
          );
          assert.deepEqual(
            l.vipHolders().map((b) => b.name),
            [master.name],
            l.diagnose(),
          );
          assert.equal(moves, 0, `no balancer changed state\n${l.diagnose()}`);
          for (const [i, b] of l.balancers.entries())
            assert.ok(dropped[i] >= 10, `${b.name}'s filter dropped the foreign adverts (${dropped[i]})`);

          // The control: without the filter the same speaker takes the VIP from the balancers.
          for (const b of l.balancers) l.unloadFilter(b);
          const end2 = Date.now() + 3000;
          while (Date.now() < end2 && l.vipHolders().length) await sleep(20);
          assert.deepEqual(
            l.vipHolders().map((b) => b.name),
            [],
            "without the filter the foreign speaker wins (else this case proves nothing)",
          );
        } finally {
          l.stopForeign();
          for (const b of l.balancers) l.loadFilter(b);
        }
      });

      it("keepalived killed on the master and restarted as its drop-in says: no duplicate VIP", async () => {
        const l = lab!;
        const master = await resetVrrp(l);
        const others = l.balancers.filter((b) => b !== master);
        const probeFile = path.join(l.dir, "probe-kill.log");
        const probe = l.startProbe(probeFile);
        try {
          await sleep(500);
          const t0 = Date.now() / 1000;
          l.killKeepalived(master);
          // A killed keepalived cannot remove the VIP itself: the stale address is there.
          assert.ok(l.holdsVip(master), "SIGKILL left the VIP on the old master");
          const restart = l.supervisedRestart(master);
          const next = await l.waitForMaster(8000, others);
          await restart;
          // Back with a higher priority, the old master takes the VIP again (preemption).
          const end = Date.now() + 10000;
          while (Date.now() < end && !(l.holdsVip(master) && l.vipHolders().length === 1)) await sleep(50);
          await sleep(1000);
          assert.ok(l.keepalivedRunning(master), "the restarted keepalived runs");
          const holders = l.vipHolders().map((b) => b.name);
          const r = stopProbe(probe, probeFile, t0);
          console.log(`figure frontend.${stack}.keepalived_kill.duplicate_vips ${holders.length - 1} addresses`);
          console.log(`figure frontend.${stack}.keepalived_kill.failover ${r.failoverMs} ms`);
          console.log(`figure frontend.${stack}.keepalived_kill.failed_requests ${r.failed} requests`);
          assert.match(l.keepalivedLog(next), /Entering MASTER STATE/, `${next.name} took over meanwhile`);
          assert.deepEqual(holders, [master.name], "exactly one balancer holds the VIP (ip addr on each)");
          assert.ok(
            r.failoverMs < FAILOVER_MS,
            `kill: requests failed for ${r.failoverMs} ms (t0 ${t0.toFixed(3)}; failed: ${r.failures.join(", ")})\n${l.diagnose()}`,
          );
        } finally {
          if (probe.exitCode === null) probe.kill("SIGKILL");
        }
      });

      it("a config and certificate roll across the balancers under load fails no request", async () => {
        const l = lab!;
        const master = await resetVrrp(l);
        const rotated = l.newCertificate();
        const probeFile = path.join(l.dir, "probe-roll.log");
        // Generous timeout: this case counts failures, it does not time gaps. A request that an
        // old worker closed unprocessed while shutting down gracefully (an HTTP/2 GOAWAY, a
        // connection closed before its first request) is sent again, as browsers do; that
        // is counted on its own line. A restart instead of a reload still fails: refused.
        const probe = l.startProbe(probeFile, 3, rotated.bundle, true);
        try {
          await sleep(500);
          const t0 = Date.now() / 1000;
          // Two rounds, one balancer at a time: the changed nginx.conf with the new
          // certificate, then back again; each a check and a graceful reload.
          for (const round of [0, 1])
            for (const b of l.balancers) {
              const planned = l.plan.artifact(`frontend/${b.name}/nginx.conf`);
              const changed = planned.replace("keepalive_timeout 65s;", "keepalive_timeout 60s;");
              assert.notEqual(changed, planned, "the roll changes nginx.conf");
              l.reloadNginx(
                b,
                round === 0 ? l.nginxConfOf(b, changed, rotated.cert, rotated.key) : l.nginxConfOf(b, planned),
              );
              if (round === 0 && b === master) {
                await sleep(400);
                assert.equal(l.servedFingerprint(), l.fingerprintOf(rotated.cert), "the new certificate is served");
              }
              await sleep(400);
            }
          await sleep(500);
          const r = stopProbe(probe, probeFile, t0);
          const closed = l.closedUnprocessed(probeFile);
          console.log(`figure frontend.${stack}.config_roll.failed_requests ${r.failed} requests`);
          console.log(
            `figure frontend.${stack}.config_roll.closed_unprocessed ${closed.length} requests (sent again: ${closed.join(", ") || "none"})`,
          );
          assert.ok(r.okAfter >= 20, `only ${r.okAfter} requests during the roll`);
          assert.equal(r.failed, 0, `no request fails during the roll (failed: ${r.failures.join(", ")})`);
          assert.deepEqual(
            l.vipHolders().map((b) => b.name),
            [master.name],
            "the VIP did not move",
          );
        } finally {
          if (probe.exitCode === null) probe.kill("SIGKILL");
        }
      });
    });
  });
}

function highest(l: FrontendLab): Balancer {
  return [...l.balancers].sort((a, b) => b.priority - a.priority)[0];
}

/** Waits until `b` served 5 more requests than `since` (bounded). */
async function waitServed(l: FrontendLab, b: Balancer, since: number): Promise<void> {
  const end = Date.now() + 8000;
  while (Date.now() < end && l.accessLines(b) - since < 5) await sleep(50);
}

function stopProbe(probe: ReturnType<FrontendLab["startProbe"]>, file: string, t0: number): ProbeResult {
  probe.kill("SIGTERM");
  spawnSync("sleep", ["0.1"]);
  return analyzeProbe(file, t0);
}

/**
 * Stops every keepalived (and lifts any blackhole), makes sure every Nginx runs and every
 * filter is loaded, starts keepalived on the balancers in `order` (`gapMs` apart) and waits
 * until the highest priority alone holds the VIP, then that it keeps it for `stableMs`.
 * Returns how long it took until the highest priority alone held the VIP.
 */
async function startAll(l: FrontendLab, order: readonly Balancer[], gapMs: number, stableMs: number): Promise<number> {
  l.stopKeepaliveds(l.balancers);
  for (const b of l.balancers) {
    l.blackhole(b, false);
    if (!l.nginxRunning(b)) l.startNginx(b);
    l.loadFilter(b);
  }
  for (const b of l.balancers) assert.ok(!l.holdsVip(b), `${b.name} still holds the VIP after keepalived stopped`);
  const t0 = Date.now();
  for (const [i, b] of order.entries()) {
    if (i && gapMs) await sleep(gapMs);
    l.startKeepalived(b);
  }
  const top = highest(l);
  const end = Date.now() + 10000;
  let holders = l.vipHolders();
  while (!(holders.length === 1 && holders[0] === top)) {
    if (Date.now() > end)
      throw new Error(
        `${top.name} did not hold the VIP alone within 10 s (held by: ${holders.map((b) => b.name).join(", ") || "none"})`,
      );
    await sleep(50);
    holders = l.vipHolders();
  }
  const settledMs = Date.now() - t0;
  const stableEnd = Date.now() + stableMs;
  while (Date.now() < stableEnd) {
    holders = l.vipHolders();
    assert.ok(holders.length === 1 && holders[0] === top, `the VIP moved on: ${holders.map((b) => b.name).join(", ")}`);
    await sleep(50);
  }
  return settledMs;
}

/**
 * The tier as it runs normally: every balancer's Nginx and keepalived up, filters loaded,
 * the highest priority alone with the VIP. Restarts the tier only when it is not so.
 */
async function resetVrrp(l: FrontendLab): Promise<Balancer> {
  const top = highest(l);
  for (const b of l.balancers) {
    l.blackhole(b, false);
    l.loadFilter(b);
  }
  const healthy = l.balancers.every((b) => l.nginxRunning(b) && l.keepalivedRunning(b));
  const holders = l.vipHolders();
  if (!healthy || holders.length !== 1 || holders[0] !== top) await startAll(l, l.balancers, 0, 500);
  return top;
}
