/**
 * The offline plan end to end: the real program under mocks, in a child process, for
 * the committed stacks and for synthetic ones. Artifacts are checked by their consumers.
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import fc from "fast-check";
import * as yaml from "js-yaml";
import { toYaml } from "../../components/shared/artifacts";
import { writeSynthStack } from "../../tools/synth";
import { FIVE_MISTAKES } from "../helpers/config";
import { planFailure, planStack, PROJECT_DIR, type PlanResult } from "../helpers/plan";
import { requireTool } from "../helpers/tools";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "estate-plan-test-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function inputValue(plan: PlanResult, urn: string, property: string): unknown {
  const r = plan.resources.find((x) => x.urn === urn);
  assert.ok(r, `resource ${urn} in resources.json`);
  if (property === ".") return r.inputs;
  return property.split(".").reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], r.inputs);
}

/** Every file under `dir`, relative, with its bytes. */
function tree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory()) walk(path.join(d, e.name));
      else files.set(path.relative(dir, path.join(d, e.name)), fs.readFileSync(path.join(d, e.name)));
  };
  walk(dir);
  return files;
}

for (const stack of ["dev", "prod"]) {
  describe(`offline plan: ${stack}`, function () {
    this.timeout(120000);
    let plan: PlanResult;
    before(() => {
      plan = planStack(stack);
      const figure = /^figure plan\.\S+\.seconds .*$/m.exec(plan.stdout);
      if (figure) console.log(`      ${figure[0]}`);
      console.log(`      figure plan.${stack}.resources ${plan.resources.length} resources`);
    });

    it("writes resources.json, outputs.json, artifacts/INDEX.json and preview.txt", () => {
      for (const f of ["resources.json", "outputs.json", "artifacts/INDEX.json", "preview.txt"])
        assert.ok(fs.existsSync(path.join(plan.dir, f)), f);
      const root = plan.resources[0];
      assert.equal(root.type, "pulumi:pulumi:Stack");
      assert.equal(root.urn, `urn:pulumi:${stack}::estate::pulumi:pulumi:Stack::estate-${stack}`);
      for (const r of plan.resources) {
        assert.deepEqual(Object.keys(r), ["urn", "type", "name", "parent", "provider", "dependencies", "inputs"]);
        if (r !== root)
          assert.ok(
            plan.resources.some((p) => p.urn === r.parent),
            `${r.urn} has a registered parent`,
          );
        for (const d of r.dependencies)
          assert.ok(
            plan.resources.some((p) => p.urn === d),
            `${d} is registered`,
          );
      }
      const preview = fs.readFileSync(path.join(plan.dir, "preview.txt"), "utf8");
      assert.match(preview, new RegExp(`\\+ ${plan.resources.length} to create`));
    });

    it("registers one HardwareNode per server, with preflight and baseline", () => {
      const doc = yaml.load(fs.readFileSync(path.join(PROJECT_DIR, `Pulumi.${stack}.yaml`), "utf8")) as {
        config: Record<string, { name: string }[]>;
      };
      const servers = doc.config["estate:servers"].map((s) => s.name).sort();
      const nodes = plan.resources.filter((r) => r.type === "estate:node:HardwareNode").map((r) => r.name);
      assert.deepEqual(nodes.sort(), servers);
      for (const s of servers)
        for (const step of ["preflight", "baseline"])
          assert.ok(plan.resources.some((r) => r.name === `${s}-${step}` && r.type === "command:remote:Command"));
    });

    it("never writes a secret: the SSH key and connections are [secret]", () => {
      const text = fs.readFileSync(path.join(plan.dir, "resources.json"), "utf8");
      assert.doesNotMatch(text, /plan placeholder/);
      for (const r of plan.resources.filter((x) => x.type === "command:remote:Command"))
        assert.equal(r.inputs.connection, "[secret]");
    });

    it("extracts every artifact from the registered inputs, byte for byte", () => {
      assert.ok(plan.index.length > 0);
      for (const e of plan.index) {
        const text = plan.artifact(e.path);
        assert.ok(e.format === "text" || e.format === "yaml", `${e.path} has a format`);
        const whole = text === "[secret]\n" || text === "[unknown]\n";
        if (e.format === "yaml" && !whole && (e.secret || e.unknown)) {
          // Only the secret or unknown parts of an object are hidden, each at its place.
          assert.equal(e.sha256, undefined, e.path);
          assert.equal(typeof yaml.load(text), "object", e.path);
          assert.doesNotMatch(text, /plan placeholder/, e.path);
          if (e.secret) assert.match(text, /'\[secret\]'/, e.path);
          if (e.unknown) assert.match(text, /'\[unknown\]'/, e.path);
          continue;
        }
        if (e.secret) {
          assert.equal(text, "[secret]\n");
          continue;
        }
        // Only data chosen at deployment (the Ceph fsid, a random UUID) may be unknown in a preview.
        if (e.unknown && e.kind === "data") continue;
        assert.equal(e.unknown, undefined, `${e.path} is known at preview`);
        assert.equal(createHash("sha256").update(text).digest("hex"), e.sha256, e.path);
        const input = inputValue(plan, e.urn, e.property);
        // A structured input is written as YAML (sorted keys); YAML sent as text is that text.
        const expected = e.format === "yaml" && typeof input !== "string" ? toYaml(input) : input;
        assert.equal(expected, text, `${e.path} is ${e.urn} input ${e.property}`);
      }
    });

    it("every shell artifact passes shellcheck -S warning and bash -n", () => {
      requireTool("shellcheck", "shellcheck");
      const files = plan.ofKind("shell").map((e) => path.join(plan.dir, "artifacts", e.path));
      assert.ok(files.length >= 2);
      const sc = spawnSync("shellcheck", ["-S", "warning", "-s", "bash", ...files], { encoding: "utf8" });
      assert.equal(sc.status, 0, sc.stdout + sc.stderr);
      for (const f of files) {
        const n = spawnSync("bash", ["-n", f], { encoding: "utf8" });
        assert.equal(n.status, 0, `${f}: ${n.stderr}`);
      }
    });

    it("never gives a command with a delete triggers (a trigger change replaces, and the old delete would run last)", () => {
      const commands = plan.resources.filter((r) => r.type === "command:remote:Command");
      assert.ok(commands.some((r) => r.inputs.delete !== undefined));
      for (const r of commands)
        if (r.inputs.delete !== undefined) assert.equal(r.inputs.triggers, undefined, r.urn);
        else
          assert.ok(Array.isArray(r.inputs.triggers) || r.inputs.triggers === "[secret]", `${r.urn} reruns on change`);
    });

    it("rolls switch changes: never both spines, nor both leaves of a rack, at once", () => {
      const byName = new Map(plan.resources.map((r) => [r.name, r]));
      const chains: [string, string][] =
        stack === "prod"
          ? [
              ["spine-2", "spine-1"],
              ["leaf-1b", "leaf-1a"],
            ]
          : [["leaf-1b", "leaf-1a"]];
      for (const [later, earlier] of chains)
        assert.ok(
          byName
            .get(`fabric-${later}-frr-daemons`)!
            .dependencies.includes(byName.get(`fabric-${earlier}-frr-conf`)!.urn),
          `${later} waits for ${earlier}`,
        );
    });

    it("gives every resource its own URN", () => {
      const urns = plan.resources.map((r) => r.urn);
      assert.equal(new Set(urns).size, urns.length);
    });

    it("exports the site and the nodes as stack outputs", () => {
      const out = plan.outputs as { site: { stack: string }; nodes: { name: string; ready: unknown }[] };
      assert.equal(out.site.stack, stack);
      assert.ok(out.nodes.length >= 3);
      for (const n of out.nodes) assert.equal(n.ready, "[unknown]", "readiness is known only after pulumi up");
    });
  });
}

describe("offline plan: the lean runtime", function () {
  this.timeout(120000);

  it("writes the same files, byte for byte, as with every SDK diagnostic on", () => {
    const lean = planStack("dev");
    const full = planStack("dev", undefined, { ESTATE_PLAN_FULL_RUNTIME: "1" });
    const a = tree(lean.dir);
    const b = tree(full.dir);
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [f, bytes] of a) assert.ok(bytes.equals(b.get(f)!), `${f} differs`);
  });
});

describe("offline plan: memory", function () {
  this.timeout(180000);

  // The bound is on what each resource adds past a small plan (dev: the runtime, the modules,
  // the writer thread; ~250 MiB): 200 servers ~62 KiB, 1,000 ~34 KiB (npm run bench). Before
  // the phases and the streamed inputs it was ~100 KiB and more.
  it("plans 200 servers at most 90 KiB of peak RSS per resource past the dev plan", () => {
    const peakOf = (p: { stdout: string }): number =>
      Number(/^figure plan\.\S+\.peak_rss (\d+) MiB$/m.exec(p.stdout)?.[1]);
    const file = path.join(tmp, "Pulumi.mem200.yaml");
    writeSynthStack(file, 200, 10, 2);
    const dev = planStack("dev");
    const plan = planStack("mem200", file);
    const peak = peakOf(plan);
    const marginal = ((peak - peakOf(dev)) * 1024) / (plan.resources.length - dev.resources.length);
    console.log(`      figure plan.mem200.peak_rss ${peak} MiB`);
    console.log(`      figure plan.mem200.resources ${plan.resources.length} resources`);
    console.log(`      figure plan.mem200.peak_per_resource ${((peak * 1024) / plan.resources.length).toFixed(0)} KiB`);
    console.log(`      figure plan.mem200.marginal_per_resource ${marginal.toFixed(0)} KiB`);
    assert.ok(peakOf(dev) > 0 && peak > 0, "both plans print their peak");
    assert.ok(marginal <= 90, `${marginal.toFixed(0)} KiB per resource past the dev plan`);
  });
});

describe("offline plan: synthetic estates", function () {
  this.timeout(300000);

  it("no two resources share a URN, for any estate the generator makes", () => {
    let i = 0;
    fc.assert(
      fc.property(
        fc.record({
          servers: fc.integer({ min: 6, max: 40 }),
          racks: fc.integer({ min: 1, max: 4 }),
          spines: fc.integer({ min: 1, max: 3 }),
        }),
        ({ servers, racks, spines }) => {
          const name = `urn-${i++}`;
          const file = path.join(tmp, `Pulumi.${name}.yaml`);
          writeSynthStack(file, servers, Math.min(racks, servers), spines);
          const plan = planStack(name, file);
          const urns = plan.resources.map((r) => r.urn);
          assert.equal(new Set(urns).size, urns.length);
          assert.equal(plan.resources.filter((r) => r.type === "estate:node:HardwareNode").length, servers);
        },
      ),
      { numRuns: 4, seed: 20261126 },
    );
  });
});

describe("offline plan: invalid config", function () {
  this.timeout(60000);

  it("prints one line per problem, naming its key, exits 1, and shows no stack trace", () => {
    const doc = yaml.load(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.prod.yaml"), "utf8")) as {
      config: Record<string, any>;
    };
    FIVE_MISTAKES.apply(doc.config);
    const file = path.join(tmp, "Pulumi.broken.yaml");
    fs.writeFileSync(file, yaml.dump(doc));
    const r = planFailure("broken", file);
    assert.equal(r.status, 1);
    const lines = r.stderr.trim().split("\n");
    for (const l of lines) assert.match(l, /^estate:\S+: /);
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
    const keys = lines.map((l) => l.split(": ")[0]);
    for (const k of FIVE_MISTAKES.keys) assert.ok(keys.includes(k), `${k} in:\n${r.stderr}`);
    assert.deepEqual(fs.readdirSync(r.out), [], "nothing is written for an invalid config");
    fs.rmSync(r.out, { recursive: true, force: true });
  });
});

describe("offline plan: unreadable stack files", function () {
  this.timeout(60000);

  it("a duplicate key: exit 1, one line with the file, line and column", () => {
    const file = path.join(tmp, "Pulumi.dupkey.yaml");
    fs.writeFileSync(file, "config:\n  estate:site:\n    domain: a.example\n  estate:site:\n    domain: b.example\n");
    const r = planFailure("dupkey", file);
    assert.equal(r.status, 1);
    assert.equal(
      r.stderr,
      `${file}:4:3: duplicated mapping key; each key may appear once in a map: remove or merge the repeated one\n`,
    );
    fs.rmSync(r.out, { recursive: true, force: true });
  });

  it("an alias bomb: exit 1, one line, without expanding it", () => {
    const lines = ["config:", '  estate:lol0: &a0 "lol"'];
    for (let i = 1; i <= 9; i++)
      lines.push(
        `  estate:lol${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    const file = path.join(tmp, "Pulumi.bomb.yaml");
    fs.writeFileSync(file, `${lines.join("\n")}\n`);
    const started = process.hrtime.bigint();
    const r = planFailure("bomb", file);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`      figure plan.alias_bomb.wall ${seconds.toFixed(2)} s`);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^\S+Pulumi\.bomb\.yaml:3:21: aliases expand the document by more than \d+ nodes .*\n$/);
    fs.rmSync(r.out, { recursive: true, force: true });
  });
});
