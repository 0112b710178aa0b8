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
import {
  FRONTEND_PATHS,
  type FrontTierInput,
  frontTierInputFor,
  renderKeepalivedApply,
  renderNginxApply,
  renderKeepalivedConf,
  renderNginxConf,
  renderSetup,
  renderVrrpAuth,
} from "../../components/frontend/render";
import type { Estate } from "../../config/model";
import { parseEstate } from "../../config/validate";
import { rawConfig } from "../helpers/config";
import { PROJECT_DIR } from "../helpers/plan";

const GOLDEN = path.join(PROJECT_DIR, "tests", "golden", "frontend");

function estateOf(stack: "dev" | "prod"): Estate {
  const r = parseEstate(rawConfig(stack));
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.estate;
}

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
      { name: "lb-1", address: "10.20.0.11", nic: "eno1", priority: 150 },
      { name: "lb-2", address: "10.20.0.12", nic: "eno1", priority: 140 },
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

  it("keepalived.conf: one instance, unicast to the other balancers, the secret only by include", () => {
    const one = renderKeepalivedConf(prod, "lb-1");
    assert.equal((one.match(/^vrrp_instance /gm) ?? []).length, 1);
    assert.match(one, /unicast_src_ip 10\.20\.0\.11\n\s+unicast_peer \{\n\s+10\.20\.0\.12 # lb-2\n\s+\}/);
    assert.match(one, /include \/etc\/keepalived\/frontend-auth\.conf/);
    assert.doesNotMatch(one, /auth_pass \S+$/m);
    assert.match(one, /state BACKUP\n\s+nopreempt/);
    const three: FrontTierInput = {
      ...prod,
      balancers: [...prod.balancers, { name: "lb-3", address: "10.20.0.13", nic: "eno2", priority: 130 }],
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

  it("is deterministic", () => {
    assert.equal(renderNginxConf(prod, "lb-2"), renderNginxConf(frontTierInputFor(estateOf("prod")), "lb-2"));
  });

  it("the auth include is a keepalived authentication block", () => {
    assert.equal(renderVrrpAuth("abc123"), "authentication {\n    auth_type PASS\n    auth_pass abc123\n}\n");
  });

  it("setup.sh and the apply scripts pass shellcheck", function () {
    if (spawnSync("sh", ["-c", "command -v shellcheck"]).status !== 0) {
      if (process.env.CI) throw new Error("shellcheck is required: apt-get install shellcheck");
      this.skip();
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "estate-frontend-render-"));
    try {
      const files = Object.entries({
        "setup.sh": renderSetup("lb-1"),
        "nginx-apply.sh": renderNginxApply("lb-1"),
        "keepalived-apply.sh": renderKeepalivedApply("lb-1"),
      }).map(([name, text]) => {
        const file = path.join(dir, name);
        fs.writeFileSync(file, text);
        return file;
      });
      const r = spawnSync("shellcheck", ["-S", "warning", "-s", "bash", ...files], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
