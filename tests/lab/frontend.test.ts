/**
 * Live lab of the front tier, from the plans of dev and prod (see frontend-lab.ts for the
 * topology and the exact substitutions). Needs root and Debian's nginx, keepalived,
 * nftables and curl; installs them when it can. Under CI it fails rather than skips.
 *
 * Prints `figure frontend.<stack>.<nginx_stop|keepalived_stop|blackhole>.failover <ms> ms`
 * and `... .failed_requests <n> requests`.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { requireTool } from "../helpers/tools";
import { planStack } from "../helpers/plan";
import { analyzeProbe, type Balancer, cleanupStale, FrontendLab, sleep } from "./frontend-lab";

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** Silent loss of the master: the issue's bound (VRRP floor ~3.6 s with advert_int 1). */
const SILENT_FAILOVER_MS = 4000;

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

    it("nginx -t and keepalived -t pass on the planned configs", () => {
      const l = lab!;
      for (const b of l.balancers) {
        l.prepareBalancer(b, "lab0pass");
        l.nginxCheck(b);
        l.keepalivedCheck(b);
      }
      console.log(`      substituted: ${l.substituted.map(([a, b]) => `${a} -> ${b}`).join("; ")}`);
    });

    it("the highest priority takes the VIP; the other stays backup", async () => {
      const l = lab!;
      for (const b of l.balancers) l.startNginx(b);
      await resetVrrp(l);
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

    for (const mode of ["nginx_stop", "keepalived_stop", "blackhole"] as Mode[]) {
      it(`fails the master (${mode}) and requests succeed again on the other balancer`, async () => {
        const l = lab!;
        const master = await resetVrrp(l);
        const others = l.balancers.filter((b) => b !== master);
        const probeFile = path.join(l.dir, `probe-${mode}.log`);
        const probe = l.startProbe(probeFile);
        try {
          await sleep(1000);
          const served = new Map(others.map((b) => [b.name, l.accessLines(b)]));
          const t0 = Date.now() / 1000;
          if (mode === "nginx_stop") l.stopNginx(master);
          else if (mode === "keepalived_stop") l.stopKeepalived(master);
          else l.blackhole(master, true);
          const next = await l.waitForMaster(8000, others);
          // Wait for replies to flow again through the new master (bounded).
          const end = Date.now() + 8000;
          while (Date.now() < end && l.accessLines(next) - (served.get(next.name) ?? 0) < 5) await sleep(50);
          await sleep(500);
          probe.kill("SIGTERM");
          await sleep(100);
          const r = analyzeProbe(probeFile, t0);
          console.log(`figure frontend.${stack}.${mode}.failover ${r.failoverMs} ms`);
          console.log(`figure frontend.${stack}.${mode}.failed_requests ${r.failed} requests`);
          assert.ok(r.okAfter >= 5, `only ${r.okAfter} successful requests after the failure`);
          assert.ok(
            l.accessLines(next) - (served.get(next.name) ?? 0) >= 5,
            `${next.name} (new master) served too few requests`,
          );
          assert.ok(r.failoverMs < SILENT_FAILOVER_MS, `${mode}: failover took ${r.failoverMs} ms`);
          assert.match(l.keepalivedLog(next), /Entering MASTER STATE/, "the transition is logged");
        } finally {
          if (probe.exitCode === null) probe.kill("SIGKILL");
          l.blackhole(master, false);
        }
      });
    }
  });
}

/**
 * Stops every keepalived, makes sure every Nginx runs, then starts keepalived by priority
 * (highest first, as a rolling deploy would) and returns the master: the highest priority.
 */
async function resetVrrp(l: FrontendLab): Promise<Balancer> {
  for (const b of l.balancers) {
    l.blackhole(b, false);
    l.stopKeepalived(b);
    if (!l.nginxRunning(b)) l.startNginx(b);
  }
  for (const b of l.balancers) assert.ok(!l.holdsVip(b), `${b.name} still holds the VIP after keepalived stopped`);
  const [first, ...rest] = [...l.balancers].sort((a, b) => b.priority - a.priority);
  l.startKeepalived(first);
  const master = await l.waitForMaster(8000);
  assert.equal(master.name, first.name);
  for (const b of rest) l.startKeepalived(b);
  await sleep(1500);
  for (const b of rest) assert.ok(!l.holdsVip(b), `${b.name} took the VIP from ${first.name}`);
  assert.ok(l.holdsVip(first));
  return first;
}
