/**
 * The front-tier renderers as plain functions: golden files for prod's configs (set
 * UPDATE_GOLDEN=1 to rewrite them after an intended change), and the rules the text must
 * keep whatever the stack.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { frontTierInputFor } from "../../components/frontend/input";
import {
  ADVERT_INT,
  FRONTEND_PATHS,
  type FrontTierInput,
  renderKeepalivedApply,
  renderKeepalivedConf,
  renderKeepalivedDropIn,
  renderNginxApply,
  renderNginxCheck,
  renderNginxConf,
  renderNginxExporter,
  renderSetup,
  renderTlsMetric,
  renderVrrpFilter,
  renderVrrpNotify,
  nginxExporterService,
  STATUS_PATH,
  vrrpInstanceName,
} from "../../components/frontend/render";
import { TEXTFILE_METRICS, VRRP_STATES } from "../../components/monitoring/conventions";
import { renderExporterDropIn } from "../../components/node/render";
import * as http from "http";
import { execStartOf, freePort, listenOn, promtoolCheckMetrics, scrape, start } from "../helpers/exporters";
import { requireTool } from "../helpers/tools";
import { checkScripts } from "../helpers/shellcheck";
import { estateOf } from "../helpers/config";
import { PROJECT_DIR } from "../helpers/plan";

const GOLDEN = path.join(PROJECT_DIR, "tests", "golden", "frontend");

function golden(name: string, text: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN) fs.writeFileSync(file, text);
  assert.equal(text, fs.readFileSync(file, "utf8"), `${name} differs from tests/golden/frontend/${name}`);
}

describe("front tier renderers", () => {
  const prod = frontTierInputFor(estateOf("prod"));
  const dev = frontTierInputFor(estateOf("dev"));

  it("derives the input from the model: balancers by name, priorities, every Kubernetes node upstream", () => {
    assert.deepEqual(prod.balancers, [
      { name: "lb-1", address: "10.20.0.11", nic: "eno1", priority: 150, loopback: "10.255.0.64" },
      { name: "lb-2", address: "10.20.0.12", nic: "eno1", priority: 140, loopback: "10.255.0.65" },
    ]);
    assert.equal(prod.vip, "10.20.0.10");
    assert.equal(prod.prefixLength, 24);
    assert.equal(prod.vrid, 51);
    assert.deepEqual(
      prod.upstreams.map((u) => u.name),
      ["ctl-1", "ctl-2", "ctl-3", "wrk-1", "wrk-2", "wrk-3"],
    );
    assert.equal(prod.upstreamPort, 30080);
    assert.deepEqual(
      dev.balancers.map((b) => b.name),
      ["srv-1", "srv-2"],
    );
  });

  it("prod lb-1 nginx.conf matches its golden file", () =>
    golden("prod-lb-1.nginx.conf", renderNginxConf(prod, "lb-1")));
  it("prod lb-1 keepalived.conf matches its golden file", () =>
    golden("prod-lb-1.keepalived.conf", renderKeepalivedConf(prod, "lb-1")));
  it("prod lb-2 keepalived.conf matches its golden file", () =>
    golden("prod-lb-2.keepalived.conf", renderKeepalivedConf(prod, "lb-2")));

  it("reads ports from the model, never from constants", () => {
    const moved: FrontTierInput = { ...prod, ports: { https: 8443, http: 8080 }, upstreamPort: 31080 };
    const text = renderNginxConf(moved, "lb-1");
    assert.match(text, /listen 10\.20\.0\.10:8443 ssl http2;/);
    assert.match(text, /listen 10\.20\.0\.10:8080;/);
    assert.match(text, /return 301 https:\/\/\$host:8443\$request_uri;/);
    assert.equal((text.match(/:31080 max_fails=2 fail_timeout=10s;/g) ?? []).length, 6);
    assert.doesNotMatch(text, /30080|:443\b/);
  });

  it("nginx.conf sets every path a namespace needs, hides the version and keeps stub_status local", () => {
    const text = renderNginxConf(prod, "lb-1");
    for (const d of ["pid ", "error_log ", "access_log ", "client_body_temp_path ", "proxy_temp_path "])
      assert.match(text, new RegExp(`^\\s*${d}/`, "m"), d);
    for (const t of ["fastcgi", "uwsgi", "scgi"])
      assert.match(text, new RegExp(`${t}_temp_path ${FRONTEND_PATHS.nginxTempDir}`));
    assert.match(text, /server_tokens off;/);
    assert.match(
      text,
      /listen 127\.0\.0\.1:8081;\n\s+access_log off;\n\s+location = \/nginx_status \{\n\s+stub_status;/,
    );
    assert.match(text, /proxy_set_header X-Forwarded-For \$remote_addr;/);
    assert.match(text, /keepalive 32;/);
    assert.match(text, /proxy_set_header Connection \$connection_upgrade;/);
  });

  it("prod lb-1 VRRP filter and keepalived drop-in match their golden files", () => {
    golden("prod-lb-1.vrrp-filter.nft", renderVrrpFilter(prod, "lb-1"));
    golden("prod-lb-1.keepalived.dropin.conf", renderKeepalivedDropIn(prod, "lb-1"));
  });

  it("keepalived.conf: one VRRPv3 instance, sub-second adverts, preemption, unicast to the other balancers, no password", () => {
    const one = renderKeepalivedConf(prod, "lb-1");
    assert.equal((one.match(/^vrrp_instance /gm) ?? []).length, 1);
    assert.match(one, /^\s+vrrp_version 3$/m);
    assert.match(one, new RegExp(`^\\s+advert_int ${ADVERT_INT}$`, "m"));
    assert.ok(ADVERT_INT < 1 / 3, "3 adverts + skew stay well under 1 s");
    assert.match(one, /^\s+vrrp_priority -20$/m);
    assert.doesNotMatch(one, /rt_priority/, "real time: RLIMIT_RTTIME kills a busy VRRP process");
    assert.match(one, /state BACKUP\n\s+interface eno1/);
    assert.doesNotMatch(one, /nopreempt/, "the highest healthy priority always owns the VIP");
    assert.match(one, /^\s+preempt_delay \d/m);
    assert.doesNotMatch(one, /^\s*(authentication|auth_pass|include)\b/m, "VRRPv3 has no authentication");
    for (const g of ["vrrp_garp_master_refresh 1", "vrrp_garp_lower_prio_repeat 3", "vrrp_higher_prio_send_advert"])
      assert.match(one, new RegExp(`^\\s+${g}$`, "m"), g);
    assert.match(one, new RegExp(`script "${FRONTEND_PATHS.nginxCheck}"\n\\s+interval 1\n`));
    assert.match(one, /^\s+init_fail$/m);
    assert.match(one, /unicast_src_ip 10\.20\.0\.11\n\s+unicast_peer \{\n\s+10\.20\.0\.12 # lb-2\n\s+\}/);
    const three: FrontTierInput = {
      ...prod,
      balancers: [
        ...prod.balancers,
        { name: "lb-3", address: "10.20.0.13", nic: "eno2", priority: 130, loopback: "10.255.0.99" },
      ],
    };
    assert.match(
      renderKeepalivedConf(three, "lb-3"),
      /interface eno2[\s\S]*priority 130[\s\S]*10\.20\.0\.11 # lb-1\n\s+10\.20\.0\.12 # lb-2/,
    );
    assert.throws(
      () => renderKeepalivedConf(prod, "ctl-1"),
      /ctl-1 is not a balancer of the front tier \(lb-1, lb-2\)/,
    );
  });

  it("the VRRP filter admits VRRP only from the other balancers, on the front NIC, and nft -c accepts it", () => {
    const three: FrontTierInput = {
      ...prod,
      balancers: [
        ...prod.balancers,
        { name: "lb-3", address: "10.20.0.13", nic: "eno2", priority: 130, loopback: "10.255.0.99" },
      ],
    };
    const text = renderVrrpFilter(three, "lb-3");
    const accepts = text.split("\n").filter((l) => / accept /.test(l));
    assert.deepEqual(
      accepts.map((l) => l.trim()),
      [
        'iifname "eno2" ip saddr 10.20.0.11 ip ttl 255 meta l4proto 112 accept comment "VRRP from lb-1"',
        'iifname "eno2" ip saddr 10.20.0.12 ip ttl 255 meta l4proto 112 accept comment "VRRP from lb-2"',
      ],
    );
    assert.match(text, /^\s+meta l4proto 112 counter drop comment "VRRP from anyone else"$/m);
    // Idempotent: the table is created, deleted and defined in the same transaction.
    assert.match(
      text,
      /^table inet estate_frontend\ndelete table inet estate_frontend\ntable inet estate_frontend \{/m,
    );
    requireTool("nft", "nftables");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "estate-frontend-nft-"));
    try {
      for (const [name, t] of Object.entries({
        "prod-lb-1": renderVrrpFilter(prod, "lb-1"),
        "dev-srv-2": renderVrrpFilter(dev, "srv-2"),
        "three-lb-3": text,
        single: renderVrrpFilter({ ...prod, balancers: prod.balancers.slice(0, 1) }, "lb-1"),
      })) {
        const file = path.join(dir, `${name}.nft`);
        fs.writeFileSync(file, t);
        const r = spawnSync("nft", ["-c", "-f", file], { encoding: "utf8" });
        assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      }
      // A broken rule is caught by the same check (the check can fail).
      const broken = path.join(dir, "broken.nft");
      fs.writeFileSync(broken, text.replace("meta l4proto 112 counter drop", "meta l4proto 112 counter dorp"));
      assert.notEqual(spawnSync("nft", ["-c", "-f", broken]).status, 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the keepalived drop-in restarts it forever and removes the VIP after every stop and before every start", () => {
    const text = renderKeepalivedDropIn(prod, "lb-2");
    assert.match(text, /^\[Service\]\nRestart=always\nRestartSec=1s$/m);
    assert.match(text, /^StartLimitIntervalSec=0$/m);
    for (const k of ["ExecStopPost", "ExecStartPre"])
      assert.match(text, new RegExp(`^${k}=-/sbin/ip -4 address del 10\\.20\\.0\\.10/24 dev eno1$`, "m"), k);
  });

  describe("the Nginx check (run with stand-ins for curl and sleep)", () => {
    let dir: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "estate-frontend-check-"));
      fs.writeFileSync(path.join(dir, "check.sh"), renderNginxCheck(), { mode: 0o755 });
      // curl exits with the next code of $CODES (one per call) and logs its call.
      fs.writeFileSync(
        path.join(dir, "curl"),
        `#!/bin/sh\nn=$(wc -l <"$LOG")\necho "$*" >>"$LOG"\nset -- $CODES\n[ "$n" -lt $# ] || exit 0\nshift "$n"\nexit "$1"\n`,
        { mode: 0o755 },
      );
      fs.writeFileSync(path.join(dir, "sleep"), `#!/bin/sh\necho sleep "$1" >>"$SLEEPS"\nexec /bin/sleep "$1"\n`, {
        mode: 0o755,
      });
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const runCheck = (codes: number[]): { status: number | null; calls: number; sleeps: string[] } => {
      const log = path.join(dir, "calls");
      const sleeps = path.join(dir, "sleeps");
      fs.writeFileSync(log, "");
      fs.writeFileSync(sleeps, "");
      const r = spawnSync("bash", [path.join(dir, "check.sh")], {
        env: { PATH: `${dir}:/usr/bin:/bin`, CODES: codes.join(" "), LOG: log, SLEEPS: sleeps },
      });
      const calls = fs.readFileSync(log, "utf8").split("\n").filter(Boolean);
      for (const c of calls) assert.equal(c, "-fsS -m 0.3 -o /dev/null http://127.0.0.1:8081/nginx_status");
      return {
        status: r.status,
        calls: calls.length,
        sleeps: fs.readFileSync(sleeps, "utf8").split("\n").filter(Boolean),
      };
    };

    it("healthy: a sample every 0.2 s for 0.6 s, exit 0 well inside keepalived's 1 s interval", () => {
      const t0 = Date.now();
      const r = runCheck([]);
      assert.equal(r.status, 0);
      assert.ok(r.calls >= 2 && r.calls <= 4, `${r.calls} samples`);
      assert.deepEqual(r.sleeps, Array(r.calls - 1).fill("sleep 0.2"));
      assert.ok(Date.now() - t0 < 2000, `the check ran ${Date.now() - t0} ms`);
    });
    it("refused (Nginx not running) or an HTTP error: exit 1 at once", () => {
      assert.deepEqual(runCheck([0, 7]).status, 1);
      assert.equal(runCheck([0, 7]).calls, 2);
      assert.equal(runCheck([22]).calls, 1);
      assert.equal(runCheck([22]).status, 1);
    });
    it("one slow answer is load, two in a row are a failure", () => {
      assert.equal(runCheck([28, 0, 28, 0]).status, 0);
      const two = runCheck([0, 28, 28, 0]);
      assert.equal(two.status, 1);
      assert.equal(two.calls, 3);
    });
  });

  it("is deterministic", () => {
    assert.equal(renderNginxConf(prod, "lb-2"), renderNginxConf(frontTierInputFor(estateOf("prod")), "lb-2"));
  });

  it("Nginx changes reload, never restart; keepalived's apply loads the filter first", () => {
    assert.match(
      renderNginxApply("lb-1"),
      /^if systemctl is-active --quiet nginx; then systemctl reload nginx; else systemctl start nginx; fi$/m,
    );
    assert.doesNotMatch(renderNginxApply("lb-1"), /systemctl restart|nginx -s stop/);
    const ka = renderKeepalivedApply("lb-1");
    assert.ok(ka.indexOf(`nft -f ${FRONTEND_PATHS.vrrpFilter}`) < ka.indexOf("systemctl reload keepalived"));
    assert.doesNotMatch(ka, /systemctl restart/);
    const setup = renderSetup("lb-1");
    assert.match(setup, /include "\/etc\/nftables\.d\/\*\.nft"/);
  });

  it("setup.sh, the apply scripts, the Nginx check, the VRRP notify and the Nginx exporter pass shellcheck and bash -n", () => {
    assert.deepEqual(
      checkScripts({
        "setup.sh": renderSetup("lb-1"),
        "nginx-apply.sh": renderNginxApply("lb-1"),
        "keepalived-apply.sh": renderKeepalivedApply("lb-1"),
        "nginx-check.sh": renderNginxCheck(),
        "vrrp-notify.sh": renderVrrpNotify(prod, "lb-1"),
        "nginx-exporter.sh": renderNginxExporter(prod, "lb-1"),
      }),
      {},
    );
  });

  describe("monitoring", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "estate-frontend-mon-"));
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("prod lb-1 VRRP notify and Nginx exporter scripts match their golden files", () => {
      golden("prod-lb-1.vrrp-notify.sh", renderVrrpNotify(prod, "lb-1"));
      golden("prod-lb-1.nginx-exporter.sh", renderNginxExporter(prod, "lb-1"));
    });

    it("keepalived calls the notify script on transitions; its unit writes INIT before a start and STOP after a stop", () => {
      const conf = renderKeepalivedConf(prod, "lb-1");
      assert.match(conf, new RegExp(`^\\s+notify "${FRONTEND_PATHS.vrrpNotify}"$`, "m"));
      const unit = renderKeepalivedDropIn(prod, "lb-1");
      const name = vrrpInstanceName(prod);
      assert.match(unit, new RegExp(`^ExecStartPre=-${FRONTEND_PATHS.vrrpNotify} INSTANCE ${name} INIT 0$`, "m"));
      assert.match(unit, new RegExp(`^ExecStopPost=-${FRONTEND_PATHS.vrrpNotify} INSTANCE ${name} STOP 0$`, "m"));
    });

    describe("the VRRP notify script, run for real", () => {
      const dir = path.join(tmp, "textfile");
      const script = path.join(tmp, "notify.sh");
      const canary = path.join(tmp, "canary");
      const file = path.join(dir, TEXTFILE_METRICS.vrrpState.file);
      const instance = vrrpInstanceName(prod);
      before(() => {
        requireTool("promtool", "prometheus");
        fs.writeFileSync(script, renderVrrpNotify(prod, "lb-1", dir), { mode: 0o755 });
      });
      const notify = (...args: string[]) =>
        spawnSync("bash", [script, ...args], {
          encoding: "utf8",
          cwd: tmp,
          env: { ...process.env, PATH: process.env.PATH },
        });

      /** The two samples of the file, after promtool accepted it. */
      function samples(): { state: number; last: number } {
        const text = fs.readFileSync(file, "utf8");
        const check = promtoolCheckMetrics(text);
        assert.equal(check.status, 0, `promtool check metrics:\n${check.output}\n${text}`);
        const value = (name: string): number => {
          const m = new RegExp(`^${name}\\{vrrp_instance="${instance}"\\} (\\d+)$`, "m").exec(text);
          assert.ok(m, `${name} missing in:\n${text}`);
          return Number(m[1]);
        };
        return { state: value(TEXTFILE_METRICS.vrrpState.name), last: value(TEXTFILE_METRICS.vrrpLastTransition.name) };
      }

      it("writes every state keepalived sends, atomically, as valid Prometheus text", () => {
        const want: [string, number][] = [
          ["INIT", VRRP_STATES.INIT],
          ["BACKUP", VRRP_STATES.BACKUP],
          ["MASTER", VRRP_STATES.MASTER],
          ["FAULT", VRRP_STATES.FAULT],
          ["STOP", VRRP_STATES.INIT],
          ["DELETED", VRRP_STATES.INIT],
        ];
        for (const [state, value] of want) {
          const before = Math.floor(Date.now() / 1000);
          const r = notify("INSTANCE", instance, state, "150");
          assert.equal(r.status, 0, `${state}: ${r.stderr}`);
          const got = samples();
          assert.equal(got.state, value, state);
          assert.ok(got.last >= before && got.last <= Math.ceil(Date.now() / 1000), `${state}: timestamp ${got.last}`);
          assert.equal(fs.statSync(file).mode & 0o777, 0o644, "readable by the exporter's user");
          // Nothing but the one file: the temporary file was renamed, not left behind.
          assert.deepEqual(fs.readdirSync(dir), [TEXTFILE_METRICS.vrrpState.file]);
        }
      });

      it("rejects hostile or unexpected arguments, runs nothing of them, and keeps the last state", () => {
        assert.equal(notify("INSTANCE", instance, "MASTER", "150").status, 0);
        const kept = fs.readFileSync(file, "utf8");
        const hostile: string[][] = [
          [],
          ["INSTANCE", instance, "MASTER"],
          ["INSTANCE", instance, "MASTER", "150", "extra"],
          ["GROUP", instance, "MASTER", "150"],
          ["INSTANCE", "frontend_52", "MASTER", "150"],
          ["INSTANCE", `${instance}$(touch ${canary})`, "MASTER", "150"],
          ["INSTANCE", instance, `MASTER$(touch ${canary})`, "150"],
          ["INSTANCE", instance, `MASTER\nestate_vrrp_state{vrrp_instance="x"} 2`, "150"],
          ["INSTANCE", instance, "master", "150"],
          ["INSTANCE", instance, "BACKUP", `a[$(touch ${canary})]`],
          ["INSTANCE", instance, "BACKUP", "1+1"],
          ["INSTANCE", instance, "BACKUP", "256"],
          ["INSTANCE", instance, "BACKUP", `\`touch ${canary}\``],
          ["INSTANCE", `'; touch ${canary}; '`, "BACKUP", "150"],
        ];
        for (const args of hostile) {
          const r = notify(...args);
          assert.equal(r.status, 2, `${JSON.stringify(args)}: status ${r.status} ${r.stderr}`);
          assert.match(r.stderr, /^estate-vrrp-notify: /, JSON.stringify(args));
          assert.ok(!fs.existsSync(canary), `${JSON.stringify(args)} ran a command`);
          assert.equal(fs.readFileSync(file, "utf8"), kept, `${JSON.stringify(args)} changed the metric`);
        }
      });
    });

    describe("the certificate's notAfter, run for real", () => {
      const cert = path.join(PROJECT_DIR, "tests", "fixtures", "plan-only-tls.crt");

      function run(script: string, env: NodeJS.ProcessEnv = process.env) {
        const f = path.join(tmp, `tls-${Math.random().toString(36).slice(2)}.sh`);
        fs.writeFileSync(f, `#!/bin/bash\nset -euo pipefail\n${script}\n`);
        return spawnSync("bash", [f], { encoding: "utf8", env });
      }

      it("writes the certificate's notAfter as Unix time, as valid Prometheus text", () => {
        requireTool("promtool", "prometheus");
        const dir = path.join(tmp, "tls-textfile");
        const r = run(renderTlsMetric(cert, dir));
        assert.equal(r.status, 0, r.stderr);
        const text = fs.readFileSync(path.join(dir, TEXTFILE_METRICS.tlsNotAfter.file), "utf8");
        const check = promtoolCheckMetrics(text);
        assert.equal(check.status, 0, check.output);
        const end = spawnSync("openssl", ["x509", "-enddate", "-noout", "-in", cert], { encoding: "utf8" })
          .stdout.trim()
          .replace(/^notAfter=/, "");
        const want = Math.floor(Date.parse(end) / 1000);
        assert.ok(Number.isFinite(want));
        assert.match(
          text,
          new RegExp(`^${TEXTFILE_METRICS.tlsNotAfter.name}\\{path="${cert.replace(/[.]/g, "\\.")}"\\} ${want}$`, "m"),
        );
        assert.deepEqual(fs.readdirSync(dir), [TEXTFILE_METRICS.tlsNotAfter.file]);
      });

      it("never evaluates openssl's answer: an unexpected notAfter fails the step and runs nothing", () => {
        const bin = path.join(tmp, "fake-openssl");
        const canary = path.join(tmp, "tls-canary");
        fs.mkdirSync(bin, { recursive: true });
        fs.writeFileSync(
          path.join(bin, "openssl"),
          `#!/bin/bash\necho 'notAfter=$(touch ${canary}) Nov 26 19:13:22 2027 GMT'\n`,
          { mode: 0o755 },
        );
        const dir = path.join(tmp, "tls-hostile");
        const r = run(renderTlsMetric(cert, dir), { ...process.env, PATH: `${bin}:${process.env.PATH}` });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /is not in openssl's date format/);
        assert.ok(!fs.existsSync(canary));
        assert.ok(!fs.existsSync(path.join(dir, TEXTFILE_METRICS.tlsNotAfter.file)));
      });

      it("nginx-apply writes it whenever it runs (its triggers include the certificate's hash)", () => {
        assert.ok(renderNginxApply("lb-1").includes(renderTlsMetric()));
      });
    });

    it("the planned flags run Debian's Nginx exporter 0.11: it waits for stub_status at start, then reports nginx_up 1", async function () {
      this.timeout(40000);
      requireTool("prometheus-nginx-exporter", "prometheus-nginx-exporter");
      const [port, statusPort] = [await freePort(), await freePort()];
      const lb = prod.balancers[0];
      const planned = execStartOf(renderExporterDropIn(nginxExporterService(lb.loopback)));
      const { argv, was } = listenOn(planned, "-web.listen-address", port);
      const argv2 = argv.map((w) => w.replace(/^(-nginx\.scrape-uri=http:\/\/127\.0\.0\.1:)\d+/, `$1${statusPort}`));
      // Retry every second instead of 5 s, so the test is short (the count stays the planned one).
      argv2.push("-nginx.retry-interval=1s");
      console.log(
        `substituted: ${was} -> 127.0.0.1:${port}; status port -> ${statusPort}; added -nginx.retry-interval=1s`,
      );
      const exporter = start(argv2);
      let server: http.Server | undefined;
      try {
        await new Promise((r) => setTimeout(r, 2500));
        assert.equal(exporter.child.exitCode, null, `exited while Nginx was not up yet:\n${exporter.log()}`);
        // A stand-in for Nginx's stub_status page (its exact format).
        server = http.createServer((req, res) => {
          if (req.url !== STATUS_PATH) return void res.writeHead(404).end();
          res.end(
            "Active connections: 1 \nserver accepts handled requests\n 7 7 9 \nReading: 0 Writing: 1 Waiting: 0 \n",
          );
        });
        await new Promise<void>((r) => server!.listen(statusPort, "127.0.0.1", () => r()));
        const text = await scrape(`http://127.0.0.1:${port}/metrics`, 15000, exporter);
        assert.match(text, /^nginx_up 1$/m);
        assert.match(text, /^nginx_http_requests_total 9$/m);
        assert.match(text, /^nginx_connections_active 1$/m);
      } finally {
        exporter.stop();
        server?.close();
      }
    });
  });
});
