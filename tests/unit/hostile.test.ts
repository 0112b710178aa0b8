/**
 * Hostile inventory text (quotes, `$()`, backticks, `|`, newlines, `;`, `a[$(...)]`,
 * unicode, very long values) against the two walls that keep it out of root shells:
 *
 * 1. The schema: every string leaf of the committed dev and prod stacks, replaced one at
 *    a time. A value with shell-special characters is rejected with a line naming its
 *    key; an estate that still validates renders every script (node, fabric, front tier,
 *    Ceph, K3s: add a new part's scripts to `scriptsOf`), and each passes `bash -n` with the
 *    value never outside single quotes.
 * 2. The renderers: hostile text straight into every string of their inputs (as if the
 *    schema had let it through). Every script passes `bash -n`, the text stays inside
 *    single quotes or quoted heredocs, and running the preflight on it runs nothing: a
 *    canary file the text tries to create never appears.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import fc from "fast-check";
import {
  renderApplySpecs,
  renderAuthorizeKey,
  renderBootstrap,
  renderHostAdd,
  renderHostPrep,
} from "../../components/ceph/cephadm";
import { cephadmInputFor } from "../../components/ceph/cephadm-input";
import { cephPlanFor } from "../../components/ceph/input";
import { renderCephConfigure, renderCephReadKeys } from "../../components/ceph/render";
import { frrInputFor } from "../../components/fabric/input";
import { k3sInputFor } from "../../components/kubernetes/input";
import {
  renderInstall,
  renderReadyCheck,
  renderRoll,
  renderSnapshotMetricDelete,
  renderSnapshotMetricEnable,
  renderSnapshotMetricScript,
  renderWaitReady,
} from "../../components/kubernetes/render";
import { planFabric } from "../../components/fabric/plan";
import { renderFabricExporters, renderFrrConf, renderFrrDaemons } from "../../components/fabric/render";
import { frontTierInputFor } from "../../components/frontend/input";
import {
  renderKeepalivedApply,
  renderNginxApply,
  renderNginxExporter,
  renderSetup,
  renderVrrpNotify,
} from "../../components/frontend/render";
import { baselineInputFor, networkInputFor, preflightInputFor } from "../../components/node/input";
import {
  type BaselineInput,
  type NetworkInput,
  type PreflightInput,
  renderBaseline,
  renderBaselineDelete,
  renderNetwork,
  renderNetworkDelete,
  renderPreflight,
} from "../../components/node/render";
import type { Estate } from "../../config/model";
import { parseEstate, type RawConfig } from "../../config/validate";
import { estateOf, rawConfig } from "../helpers/config";
import { bashSyntaxAll } from "../helpers/shellcheck";

// ---------------------------------------------------------------------------------------
// A quote-aware scanner: which characters of a bash script are literal data (inside
// single quotes, $'...', or the body of a heredoc with a quoted delimiter).

/** For each character of `script`, whether bash reads it as literal data. */
export function literalMask(script: string): boolean[] {
  const mask = new Array<boolean>(script.length).fill(false);
  const n = script.length;
  /** Pending heredocs of the current line: delimiter, and whether the body is literal. */
  let pending: { delim: string; literal: boolean; strip: boolean }[] = [];
  // Contexts: "code" (top level or inside $( )), "dq" (double quotes). Parens count per code level.
  const stack: { kind: "code" | "dq"; parens: number }[] = [{ kind: "code", parens: 0 }];
  let i = 0;
  const top = () => stack[stack.length - 1];
  const atWordStart = (k: number) => k === 0 || /[\s;&|()<>]/.test(script[k - 1]);
  while (i < n) {
    const c = script[i];
    const ctx = top();
    if (c === "\n" && pending.length > 0 && ctx.kind === "code") {
      // Heredoc bodies start on the next line.
      i++;
      for (const h of pending) {
        while (i < n) {
          const end = script.indexOf("\n", i);
          const lineEnd = end < 0 ? n : end;
          const line = script.slice(i, lineEnd);
          if ((h.strip ? line.replace(/^\t+/, "") : line) === h.delim) {
            i = lineEnd + 1;
            break;
          }
          if (h.literal) for (let k = i; k <= Math.min(lineEnd, n - 1); k++) mask[k] = true;
          i = lineEnd + 1;
        }
      }
      pending = [];
      continue;
    }
    if (c === "\\") {
      i += 2;
      continue;
    }
    if (ctx.kind === "dq") {
      if (c === '"') stack.pop();
      else if (c === "$" && script[i + 1] === "(") {
        stack.push({ kind: "code", parens: 0 });
        i++;
      }
      i++;
      continue;
    }
    // code
    if (c === "'") {
      const end = script.indexOf("'", i + 1);
      const stop = end < 0 ? n : end;
      for (let k = i + 1; k < stop; k++) mask[k] = true;
      i = stop + 1;
      continue;
    }
    if (c === "$" && script[i + 1] === "'") {
      let k = i + 2;
      while (k < n && script[k] !== "'") k += script[k] === "\\" ? 2 : 1;
      for (let j = i + 2; j < Math.min(k, n); j++) mask[j] = true;
      i = k + 1;
      continue;
    }
    if (c === '"') {
      stack.push({ kind: "dq", parens: 0 });
      i++;
      continue;
    }
    if (c === "$" && script[i + 1] === "(") {
      stack.push({ kind: "code", parens: 0 });
      i += 2;
      continue;
    }
    if (c === "(") ctx.parens++;
    if (c === ")") {
      if (ctx.parens > 0) ctx.parens--;
      else if (stack.length > 1) stack.pop();
      i++;
      continue;
    }
    if (c === "#" && atWordStart(i)) {
      const end = script.indexOf("\n", i);
      i = end < 0 ? n : end;
      continue;
    }
    if (c === "<" && script.startsWith("<<", i) && !script.startsWith("<<<", i)) {
      const m = /^<<(-?)[ \t]*(?:'([^']*)'|"([^"]*)"|\\?([A-Za-z0-9_]+))/.exec(script.slice(i));
      if (m) {
        const quoted = m[2] !== undefined || m[3] !== undefined || m[0].includes("\\");
        pending.push({ delim: m[2] ?? m[3] ?? m[4], literal: quoted, strip: m[1] === "-" });
        i += m[0].length;
        continue;
      }
    }
    i++;
  }
  return mask;
}

/** Where `needle` occurs in `script` with any character of it outside literal data. */
export function exposed(script: string, needle: string): number[] {
  const mask = literalMask(script);
  const out: number[] = [];
  for (let at = script.indexOf(needle); at >= 0; at = script.indexOf(needle, at + 1))
    if (mask.slice(at, at + needle.length).some((m) => !m)) out.push(at);
  return out;
}

describe("the quote-aware scanner", () => {
  it("knows single quotes, $'...', quoted heredocs, and what is not literal", () => {
    const s = [
      "a='X1' b=\"X2\" c=$'X3'",
      "cat <<'EOF'\nX4 $(x)\nEOF",
      "cat <<EOF\nX5\nEOF",
      "echo \"$(printf 'X6')\" # X7",
      "d=$(echo 'X8' \"X9\")",
    ].join("\n");
    const literal = (t: string) => exposed(s, t).length === 0;
    assert.deepEqual(["X1", "X2", "X3", "X4", "X5", "X6", "X7", "X8", "X9"].map(literal), [
      true,
      false,
      true,
      true,
      false,
      true,
      false,
      true,
      false,
    ]);
  });
});

// ---------------------------------------------------------------------------------------
// Hostile text.

/** The file every exploit below tries to create (relative: preflight runs in a temporary folder). */
const CANARY = "__CANARY__";

/** Fragments that try to break out of whatever they are put in. */
const FRAGMENTS = [
  "'",
  '"',
  "$(touch __CANARY__)",
  "`touch __CANARY__`",
  "|",
  "\n",
  "\r",
  ";",
  "&&",
  " ",
  "\t",
  "a[$(touch __CANARY__)]",
  "x|1|a[$(touch __CANARY__)]",
  "x|1|PATH[$(touch __CANARY__)]",
  "$((a[$(touch __CANARY__)]))",
  "${IFS}",
  "\\",
  "#",
  "<<EOF",
  "ESTATE_EOF",
  "\nESTATE_EOF\n",
  "*",
  "..",
  "/",
  "Ω",
  "雪",
  "\u202e",
  "\u0000",
  "😀",
] as const;

/** Characters bash gives a meaning to (and anything that is not printable ASCII). */
const SPECIAL = /[^A-Za-z0-9._/+:@%^=,-]/;

const fragment = fc.constantFrom(...FRAGMENTS);
const hostileText = fc.oneof(
  fc.array(fragment, { minLength: 1, maxLength: 4 }).map((f) => f.join("")),
  fc.tuple(fc.string({ maxLength: 6 }), fragment, fc.string({ maxLength: 6 })).map(([a, f, b]) => a + f + b),
  fc.constantFrom("a".repeat(5000), `${"b".repeat(300)}$(touch __CANARY__)`),
);

/**
 * A hostile value built from an original one: alone, appended, prepended or very long;
 * and now and then a harmless one, so that some estates still validate and render.
 */
const hostileFor = (original: string) =>
  fc.oneof(
    hostileText,
    fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,10}[a-z0-9]$/),
    hostileText.map((h) => original + h),
    hostileText.map((h) => h + original),
    fc.constant(original + "x".repeat(2000)),
  );

// ---------------------------------------------------------------------------------------
// 1. Through the schema.

/** A string leaf of a stack file: its config key, its path inside the key's value, its value. */
interface Leaf {
  readonly key: string;
  readonly path: readonly (string | number)[];
  readonly value: string;
}

function leavesOf(raw: RawConfig): Leaf[] {
  const out: Leaf[] = [];
  const walk = (key: string, v: unknown, p: (string | number)[]): void => {
    if (typeof v === "string") out.push({ key, path: p, value: v });
    else if (Array.isArray(v)) v.forEach((x, i) => walk(key, x, [...p, i]));
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(key, x, [...p, k]);
  };
  for (const [full, text] of Object.entries(raw.values)) {
    if (!full.startsWith("estate:")) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    // Secrets are checked where they are used (front tier, SSH); the model's text is here.
    // Alertmanager's credentials are opaque: they reach it only as the content of a mounted file.
    const secrets = ["sshPrivateKey", "tlsCertificate", "tlsKey", "vrrpPassword", "alertmanagerCredentials"];
    if (secrets.includes(full.slice(7))) continue;
    walk(full.slice(7), value, []);
  }
  return out;
}

function keyPath(leaf: Leaf): string {
  return leaf.path.reduce<string>((s, p) => (typeof p === "number" ? `${s}[${p}]` : `${s}.${p}`), `estate:${leaf.key}`);
}

function withLeaf(raw: RawConfig, leaf: Leaf, value: string): RawConfig {
  const full = `estate:${leaf.key}`;
  if (leaf.path.length === 0) return { ...raw, values: { ...raw.values, [full]: value } };
  const root = JSON.parse(raw.values[full]) as Record<string | number, unknown>;
  let cur = root;
  for (const p of leaf.path.slice(0, -1)) cur = cur[p] as Record<string | number, unknown>;
  cur[leaf.path[leaf.path.length - 1]] = value;
  return { ...raw, values: { ...raw.values, [full]: JSON.stringify(root) } };
}

/** Every bash script the estate's components send to a host, by a readable name. */
function scriptsOf(estate: Estate): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of estate.servers) {
    out[`${s.name}/preflight.sh`] = renderPreflight(preflightInputFor(s, estate));
    out[`${s.name}/network.sh`] = renderNetwork(networkInputFor(s, estate));
    out[`${s.name}/baseline.sh`] = renderBaseline(baselineInputFor(s, estate));
    out[`${s.name}/baseline.delete.sh`] = `#!/bin/bash\n${renderBaselineDelete(s.ssh.user)}\n`;
    out[`${s.name}/network.delete.sh`] = `#!/bin/bash\n${renderNetworkDelete(s.ssh.user)}\n`;
    out[`${s.name}/frr-daemons.sh`] = renderFrrDaemons({ name: s.name, forwarding: false });
    if (s.roles.includes("lb")) {
      out[`${s.name}/frontend-setup.sh`] = renderSetup(s.name);
      out[`${s.name}/nginx-apply.sh`] = renderNginxApply(s.name);
      out[`${s.name}/keepalived-apply.sh`] = renderKeepalivedApply(s.name);
      const front = frontTierInputFor(estate);
      if (front.balancers.some((b) => b.name === s.name)) {
        out[`${s.name}/vrrp-notify.sh`] = renderVrrpNotify(front, s.name);
        out[`${s.name}/nginx-exporter.sh`] = renderNginxExporter(front, s.name);
      }
    }
  }
  for (const w of estate.switches)
    out[`${w.name}/frr-daemons.sh`] = renderFrrDaemons({ name: w.name, forwarding: true });
  const cephadm = cephadmInputFor(estate);
  for (const h of cephadm.hosts) {
    out[`${h.name}/ceph-host-prep.sh`] = renderHostPrep(cephadm, h.name);
    out[`${h.name}/ceph-host-add.sh`] = renderHostAdd(h);
  }
  out["ceph/bootstrap.sh"] = renderBootstrap(cephadm);
  out["ceph/authorize-key.sh"] = renderAuthorizeKey(cephadm.sshUser);
  out["ceph/apply-specs.sh"] = renderApplySpecs(cephadm.hosts.reduce((n, h) => n + h.osdDevices.length, 0));
  const ceph = cephPlanFor(estate);
  out["ceph/configure.sh"] = renderCephConfigure(ceph.configure);
  out["ceph/read-keys.sh"] = renderCephReadKeys(ceph.configure);
  const k3s = k3sInputFor(estate);
  for (const n of [...k3s.servers, ...k3s.agents]) {
    out[`${n.name}/k3s-install.sh`] = renderInstall(k3s, n);
    out[`${n.name}/k3s-roll.sh`] = renderRoll(k3s, n);
    out[`${n.name}/k3s-wait-ready.sh`] = renderWaitReady(n.name);
    out[`${n.name}/k3s-ready-check.sh`] = renderReadyCheck(n.name);
  }
  const sshUser = (name: string): string => estate.servers.find((s) => s.name === name)!.ssh.user;
  for (const n of k3s.servers) {
    out[`${n.name}/k3s-snapshot-metric.sh`] = renderSnapshotMetricScript();
    out[`${n.name}/k3s-snapshot-metric-enable.sh`] = renderSnapshotMetricEnable();
    for (const p of ["script", "service", "timer"] as const)
      out[`${n.name}/k3s-snapshot-metric.${p}.delete.sh`] =
        `#!/bin/bash\n${renderSnapshotMetricDelete(sshUser(n.name), p)}\n`;
  }
  // frr.conf is not bash, but it is rendered from the same model: it must render.
  const plan = planFabric(estate);
  for (const n of plan.nodes) out[`${n.name}/exporters.sh`] = renderFabricExporters(n);
  for (const n of plan.nodes) assert.match(renderFrrConf(frrInputFor(plan, estate, n.name)), /\nend\n$/);
  return out;
}

describe("hostile inventory text: through the schema", () => {
  const stacks = { dev: rawConfig("dev"), prod: rawConfig("prod") };
  const leaves = Object.entries(stacks).flatMap(([stack, raw]) =>
    leavesOf(raw).map((leaf) => ({ stack: stack as "dev" | "prod", raw, leaf })),
  );
  /** Scripts of accepted estates, deduplicated, checked with bash -n at the end. */
  const rendered = new Map<string, string>();
  let accepted = 0;
  let rejected = 0;

  it("walks every string leaf of both stacks", () => {
    assert.ok(leaves.length > 100, `only ${leaves.length} string leaves`);
    for (const k of ["site", "servers", "switches", "versions", "pools", "frontend"])
      assert.ok(
        leaves.some((l) => l.leaf.key === k),
        k,
      );
    assert.ok(leaves.some((l) => l.leaf.path.join(".").endsWith("serial")));
  });

  it("rejects a value with shell-special characters at its key; what passes renders clean scripts", function () {
    this.timeout(60000);
    const started = Date.now();
    fc.assert(
      fc.property(
        fc.nat({ max: leaves.length - 1 }).chain((i) => fc.tuple(fc.constant(i), hostileFor(leaves[i].leaf.value))),
        ([i, value]) => {
          const { raw, leaf } = leaves[i];
          const r = parseEstate(withLeaf(raw, leaf, value));
          const hostile = SPECIAL.test(value) || value.length > 300;
          if (!r.ok) {
            rejected++;
            // A harmless value may break a reference elsewhere (a renamed NIC); a hostile
            // one is rejected at its own key, on one line.
            const at = keyPath(leaf);
            if (hostile)
              assert.ok(
                r.problems.some((l) => l.startsWith(`${at}: `) && !l.includes("\n")),
                `no line names ${at} for ${JSON.stringify(value.slice(0, 80))}:\n${r.problems.join("\n")}`,
              );
            return;
          }
          assert.ok(!hostile, `${keyPath(leaf)} accepted ${JSON.stringify(value.slice(0, 80))}`);
          accepted++;
          for (const [name, text] of Object.entries(scriptsOf(r.estate))) {
            if (SPECIAL.test(value))
              assert.deepEqual(exposed(text, value), [], `${name}: ${JSON.stringify(value)} outside single quotes`);
            rendered.set(text, `${leaf.key}:${name}`);
          }
        },
      ),
      { numRuns: 60 },
    );
    console.log(`figure hostile_schema_runs_ms ${Date.now() - started} ms`);
    console.log(`figure hostile_schema_rejected ${rejected} values`);
    console.log(`figure hostile_schema_accepted ${accepted} values`);
    assert.ok(rejected > 0);
  });

  it("every script of the accepted estates passes bash -n", function () {
    this.timeout(60000);
    // Always check the committed estates' scripts, whatever the property accepted.
    for (const e of [estateOf("dev"), estateOf("prod")])
      for (const [name, text] of Object.entries(scriptsOf(e))) rendered.set(text, name);
    const texts = [...rendered.keys()];
    const started = Date.now();
    const found = bashSyntaxAll(texts);
    console.log(`figure hostile_bash_n_scripts ${texts.length} scripts`);
    console.log(`figure hostile_bash_n_ms ${Date.now() - started} ms`);
    assert.deepEqual(
      Object.entries(found).map(([i, p]) => `${rendered.get(texts[Number(i)])}: ${p.join(" ")}`),
      [],
    );
  });
});

// ---------------------------------------------------------------------------------------
// 2. Straight into the renderers.

const prod = estateOf("prod");
const ctl = prod.servers.find((s) => s.name === "ctl-1")!;
const lb = prod.servers.find((s) => s.name === "lb-1")!;
const basePreflight = preflightInputFor(ctl, prod);
const baseNetwork = networkInputFor(lb, { ...prod, frontend: { ...prod.frontend, gateway: "10.20.0.1" } });
const baseBaseline = baselineInputFor(ctl, prod);

/** Every string of a renderer input, as a function that puts `v` there. */
function preflightHoles(v: string): PreflightInput[] {
  const hw = basePreflight.hardware;
  const disk = hw.disks[0];
  return [
    { ...basePreflight, host: v },
    { ...basePreflight, hardware: { ...hw, disks: [{ ...disk, path: v }, ...hw.disks.slice(1)] } },
    { ...basePreflight, hardware: { ...hw, disks: [{ ...disk, serial: v }, ...hw.disks.slice(1)] } },
    { ...basePreflight, hardware: { ...hw, disks: [{ ...disk, class: v as "nvme" }, ...hw.disks.slice(1)] } },
    { ...basePreflight, hardware: { ...hw, disks: [{ ...disk, use: v as "osd" }, ...hw.disks.slice(1)] } },
    { ...basePreflight, hardware: { ...hw, nics: [{ ...hw.nics[0], name: v }, ...hw.nics.slice(1)] } },
  ];
}

function networkHoles(v: string): NetworkInput[] {
  const [u, ...rest] = baseNetwork.uplinks;
  const f = baseNetwork.frontend!;
  return [
    { ...baseNetwork, host: v },
    { ...baseNetwork, uplinks: [{ ...u, nic: v }, ...rest] },
    { ...baseNetwork, uplinks: [{ ...u, peer: v }, ...rest] },
    { ...baseNetwork, frontend: { ...f, nic: v } },
    { ...baseNetwork, frontend: { ...f, address: v } },
    { ...baseNetwork, frontend: { ...f, segment: v } },
    { ...baseNetwork, frontend: { ...f, gateway: v } },
  ];
}

function baselineHoles(v: string): BaselineInput[] {
  const b = baseBaseline;
  return [
    { ...b, host: v },
    { ...b, fqdn: v },
    { ...b, address: v },
    { ...b, timezone: v },
    { ...b, timeServers: [v] },
    { ...b, sshUser: v },
    { ...b, packages: [...b.packages, v] },
  ];
}

describe("hostile inventory text: straight into the renderers", () => {
  const rendered = new Map<string, string>();

  it("stays inside single quotes or quoted heredocs in every node and fabric script", () => {
    // Two markers around the hostile text: if either is outside literal data, the text
    // reached bash as code (or as a comment, which a newline ends). A bash word cannot
    // hold NUL at all (`shq` refuses it), so that one is for the schema alone.
    fc.assert(
      fc.property(
        hostileText.filter((h) => !h.includes("\0")),
        fc.nat(),
        (h, pick) => {
          const v = `Mq7${h}Mq7`;
          const texts: [string, string][] = [
            ...preflightHoles(v).map((x, k): [string, string] => [`preflight#${k}`, renderPreflight(x)]),
            ...networkHoles(v).map((x, k): [string, string] => [`network#${k}`, renderNetwork(x)]),
            ...baselineHoles(v).map((x, k): [string, string] => [`baseline#${k}`, renderBaseline(x)]),
            ["frr-daemons", renderFrrDaemons({ name: v, forwarding: true })],
          ];
          for (const [name, text] of texts)
            assert.deepEqual(exposed(text, "Mq7"), [], `${name}: ${JSON.stringify(h)} reached bash as code`);
          // bash -n costs a process per script: one hole per run, chosen by the property.
          const [name, text] = texts[pick % texts.length];
          rendered.set(text, name);
        },
      ),
      { numRuns: 80 },
    );
  });

  it("every one of those scripts passes bash -n", function () {
    this.timeout(60000);
    const texts = [...rendered.keys()];
    const found = bashSyntaxAll(texts);
    console.log(`figure hostile_renderer_scripts ${texts.length} scripts`);
    assert.deepEqual(
      Object.entries(found).map(([i, p]) => `${rendered.get(texts[Number(i)])}: ${p.join(" ")}`),
      [],
    );
  });

  it("refuses NUL, which no bash word can hold", () => {
    assert.throws(() => renderPreflight({ ...basePreflight, host: "a\0b" }), /NUL/);
  });

  it("refuses a number that is not whole instead of writing it into arithmetic", () => {
    assert.throws(
      () => renderPreflight({ ...basePreflight, hardware: { ...basePreflight.hardware, cores: 1.5 } }),
      /cores: 1\.5 is not a whole number/,
    );
    assert.throws(
      () =>
        renderPreflight({
          ...basePreflight,
          hardware: { ...basePreflight.hardware, cores: "1|a[$(id)]" as unknown as number },
        }),
      /is not a whole number/,
    );
    assert.throws(() => renderPreflight({ ...basePreflight, memoryTolerancePercent: 6.5 }), /not a whole percent/);
    assert.throws(
      () => renderNetwork({ ...baseNetwork, uplinks: [{ ...baseNetwork.uplinks[0], speedMbps: 2.5 }] }),
      /is not a whole number/,
    );
  });

  describe("running preflight on hostile disk data runs nothing", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "estate-hostile-"));
    const shims = path.join(dir, "bin");
    const canary = path.join(dir, CANARY);
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    before(() => {
      fs.mkdirSync(shims);
      // The machine's answers, whatever the question's arguments.
      const shim = (name: string, body: string) =>
        fs.writeFileSync(path.join(shims, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
      shim("lscpu", 'case "$1" in -p=SOCKET) echo 0 ;; *) echo 0,0 ;; esac');
      shim(
        "lsblk",
        `case "$*" in
  *-J*) echo '{"blockdevices":[]}' ;;
  *ROTA*) echo 0 ;;
  *SERIAL*) echo REAL-SERIAL ;;
  *SIZE*) echo 480103981056 ;;
  *MODEL*) echo 'SAMSUNG MZ7L3480' ;;
esac`,
      );
    });

    /** A block device to stand in for the inventory's disk (the loop device of this machine). */
    function blockDevice(): string {
      const dev = ["/dev/loop0", "/dev/loop1"].find((d) => fs.existsSync(d) && fs.statSync(d).isBlockDevice());
      if (dev) return dev;
      const made = path.join(dir, "blk");
      if (!fs.existsSync(made)) {
        const r = spawnSync("mknod", [made, "b", "7", "0"]);
        assert.equal(r.status, 0, "needs a block device: /dev/loop0, or mknod as root");
      }
      return made;
    }

    // Under `set -u` an arithmetic subscript runs its command only on a set variable
    // (PATH, or the script's own arrays), which is what the first ones use.
    const EXPLOITS = [
      "x|1|PATH[$(touch __CANARY__)]",
      "x|1|problems[$(touch __CANARY__)]",
      "x|1|a[$(touch __CANARY__)]",
      "$(touch __CANARY__)",
      "`touch __CANARY__`",
      "a[$(touch __CANARY__)]",
      "$((a[$(touch __CANARY__)]))",
      "1|1|1|1|a[$(touch __CANARY__)]|1",
      "x'$(touch __CANARY__)'",
      'x"$(touch __CANARY__)"',
      "x\n$(touch __CANARY__)\n",
    ];

    function run(input: PreflightInput): { status: number | null; stderr: string; created: boolean } {
      fs.rmSync(canary, { force: true });
      const r = spawnSync("bash", ["--norc", "-c", renderPreflight(input)], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        env: { PATH: `${shims}:/usr/bin:/bin`, LC_ALL: "C" },
        cwd: dir,
      });
      return { status: r.status, stderr: r.stderr, created: fs.existsSync(canary) };
    }

    for (const exploit of EXPLOITS)
      it(`a serial of ${JSON.stringify(exploit)}, alone and with the host, disk path and NIC name`, () => {
        const dev = blockDevice();
        // The disk path is a link to a real block device, so the checks reach the serial and size.
        const link = path.join(dir, `disk-${exploit.replace(/\//g, "_")}`);
        fs.rmSync(link, { force: true });
        fs.symlinkSync(dev, link);
        const hw = basePreflight.hardware;
        const inputs: [string, PreflightInput][] = [
          [
            dev,
            {
              ...basePreflight,
              hardware: { ...hw, disks: [{ path: dev, class: "ssd", use: "os", serial: exploit, sizeGB: 480 }] },
            },
          ],
          [
            link,
            {
              ...basePreflight,
              host: exploit,
              hardware: {
                ...hw,
                disks: [{ path: link, class: "ssd", use: "os", serial: exploit, sizeGB: 480 }],
                nics: [{ name: exploit, speedGbps: 25 }],
              },
            },
          ],
        ];
        for (const [diskPath, input] of inputs) {
          const r = run(input);
          assert.equal(r.created, false, `the canary was created:\n${r.stderr}`);
          assert.equal(r.status, 1, r.stderr);
          const serialLine = `  - disk ${diskPath} (${dev}): serial REAL-SERIAL, inventory says ${exploit}`;
          assert.ok(r.stderr.includes(serialLine), `the serial is compared as text:\n${r.stderr}`);
          assert.ok(!/disk .*GB, inventory/.test(r.stderr), `480 GB is within 2%:\n${r.stderr}`);
        }
      });

    it("the same disk with its own serial and size passes the disk checks", () => {
      const dev = blockDevice();
      const r = run({
        ...basePreflight,
        requireSecureBoot: false,
        requireTpm: false,
        hardware: {
          ...basePreflight.hardware,
          disks: [{ path: dev, class: "ssd", use: "os", serial: "REAL-SERIAL", sizeGB: 480 }],
          nics: [],
        },
      });
      assert.ok(!/ - disk /.test(r.stderr), r.stderr);
      const small = run({
        ...basePreflight,
        hardware: { ...basePreflight.hardware, disks: [{ path: dev, class: "ssd", use: "os", sizeGB: 960 }], nics: [] },
      });
      assert.match(small.stderr, new RegExp(`  - disk ${dev} \\(${dev}\\): 480 GB, inventory allows 941-979 GB`));
    });
  });
});
