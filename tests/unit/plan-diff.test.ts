/**
 * plan:diff (tools/plan-diff.ts): the Markdown lists exactly the artifacts that were
 * added, removed or changed, with a unified diff for each changed one that is not
 * secret, and never shows a secret. On small plan folders made here, on two real plans of
 * dev (the second with versions.k3s bumped in a copy of Pulumi.dev.yaml; the rendered
 * comment is printed: docs/plan-diff-sample.md is one such rendering), and end to end
 * against HEAD through a git worktree.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { MARKER, planDiffDirs, renderMarkdown, diffStack } from "../../tools/plan-diff";
import { placeholderFor } from "../../tools/stackconfig";
import { PROJECT_DIR, planStack } from "../helpers/plan";

const TLS_KEY = fs.readFileSync(path.join(PROJECT_DIR, "tests/fixtures/plan-only-tls.key"), "utf8");

/** A plan folder of one stack with these artifacts (text, or secret). */
function planDir(root: string, stack: string, files: Record<string, string | { secret: true }>): string {
  const dir = path.join(root, stack);
  fs.mkdirSync(path.join(dir, "artifacts"), { recursive: true });
  const index = Object.entries(files).map(([p, v]) => {
    const text = typeof v === "string" ? v : "[secret]\n";
    fs.mkdirSync(path.dirname(path.join(dir, "artifacts", p)), { recursive: true });
    fs.writeFileSync(path.join(dir, "artifacts", p), text);
    return {
      path: p,
      kind: "shell",
      target: "srv-1",
      ...(typeof v === "string" ? { sha256: createHash("sha256").update(text).digest("hex") } : { secret: true }),
    };
  });
  fs.writeFileSync(path.join(dir, "artifacts", "INDEX.json"), JSON.stringify(index));
  fs.writeFileSync(path.join(dir, "resources.json"), JSON.stringify(Object.keys(files).map((p) => ({ urn: p }))));
  return dir;
}

describe("plan:diff", function () {
  this.timeout(300_000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "estate-plan-diff-test-"));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("lists exactly the added, removed and changed artifacts, with a diff for each changed one", () => {
    const base = path.join(tmp, "small-base");
    const head = path.join(tmp, "small-head");
    planDir(base, "dev", {
      "nodes/srv-1/a.sh": "echo one\necho two\n",
      "nodes/srv-1/same.conf": "x = 1\n",
      "nodes/srv-1/gone.txt": "bye\n",
      "frontend/srv-1/tls.key": { secret: true },
    });
    planDir(head, "dev", {
      "nodes/srv-1/a.sh": "echo one\necho three\n",
      "nodes/srv-1/same.conf": "x = 1\n",
      "nodes/srv-1/new.txt": "hello\n",
      "frontend/srv-1/tls.key": { secret: true },
    });
    const md = planDiffDirs(base, head, "main");
    assert.ok(md.startsWith(`${MARKER}\n`));
    assert.match(md, /#### `dev`: 1 changed, 1 added, 1 removed \(resources 4 → 4\)/);
    const rows = md.split("\n").filter((l) => l.startsWith("| `"));
    assert.deepEqual(rows, [
      "| `nodes/srv-1/a.sh` | changed | shell | srv-1 |",
      "| `nodes/srv-1/new.txt` | added | shell | srv-1 |",
      "| `nodes/srv-1/gone.txt` | removed | shell | srv-1 |",
    ]);
    assert.match(
      md,
      /```diff\n--- a\/nodes\/srv-1\/a\.sh\n\+\+\+ b\/nodes\/srv-1\/a\.sh\n@@ -1,2 \+1,2 @@\n echo one\n-echo two\n\+echo three\n```/,
    );
    assert.ok(!md.includes("same.conf"));
  });

  it("a changed secret artifact is listed without its content; a secret that reaches the text stops the tool", () => {
    const base = path.join(tmp, "secret-base");
    const head = path.join(tmp, "secret-head");
    // An artifact that turns secret (a plain placeholder before): listed, its text never diffed.
    planDir(base, "dev", { "frontend/srv-1/tls.key": "PLAIN-BEFORE\n", "x.sh": "a\n" });
    planDir(head, "dev", { "frontend/srv-1/tls.key": { secret: true }, "x.sh": "b\n" });
    const md = planDiffDirs(base, head, "main");
    assert.match(md, /\| `frontend\/srv-1\/tls\.key` \| changed \(secret, not shown\) \|/);
    assert.ok(!/--- a\/frontend\/srv-1\/tls\.key/.test(md));

    const leak = path.join(tmp, "leak-head");
    planDir(leak, "dev", { "frontend/srv-1/tls.key": "[secret]\n", "x.sh": `b\n${TLS_KEY}` });
    assert.throws(() => planDiffDirs(base, leak, "main"), /secret placeholder's text; refusing to print it/);
    const leak2 = path.join(tmp, "leak2-head");
    planDir(leak2, "dev", {
      "frontend/srv-1/tls.key": "[secret]\n",
      "x.sh": `b\n${placeholderFor("estate:sshPrivateKey")}\n`,
    });
    assert.throws(() => planDiffDirs(base, leak2, "main"), /refusing to print it/);
    const leak3 = path.join(tmp, "leak3-head");
    planDir(leak3, "dev", { "frontend/srv-1/tls.key": "[secret]\n", "x.sh": "-----BEGIN OPENSSH PRIVATE KEY-----\n" });
    assert.throws(() => planDiffDirs(base, leak3, "main"), /would show a PEM private key; refusing/);
  });

  it("two real plans of dev, versions.k3s bumped: exactly the artifacts whose hash changed, no secret (sample printed)", () => {
    const project = yaml.load(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as any;
    const versions = { ...project.config["estate:versions"].value };
    const from = versions.k3s as string;
    versions.k3s = from.replace(
      /^v(\d+)\.(\d+)\.(\d+)/,
      (_m: string, a: string, b: string, c: string) => `v${a}.${b}.${Number(c) + 1}`,
    );
    const stack = yaml.load(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.dev.yaml"), "utf8")) as any;
    stack.config["estate:versions"] = versions;
    const bumped = path.join(tmp, "Pulumi.dev-bumped.yaml");
    fs.writeFileSync(bumped, yaml.dump(stack));

    const a = planStack("dev");
    const b = planStack("dev", bumped);
    const shaOf = (idx: typeof a.index) => new Map(idx.map((e) => [e.path, e.sha256 ?? "?"]));
    const [sa, sb] = [shaOf(a.index), shaOf(b.index)];
    const expected = [...sb.keys()].filter((p) => sa.has(p) && sa.get(p) !== sb.get(p)).sort();
    assert.ok(expected.length > 0);
    assert.ok(
      expected.every((p) => /^kubernetes\//.test(p)),
      expected.join(", "),
    );

    const d = diffStack("dev", a.dir, b.dir);
    assert.deepEqual(d.added, []);
    assert.deepEqual(d.removed, []);
    assert.deepEqual(
      d.changed.map((c) => c.entry.path),
      expected,
    );
    for (const c of d.changed) {
      assert.ok(c.diff.includes(`-`) && c.diff.includes(versions.k3s), c.entry.path);
    }
    const md = renderMarkdown("main", [d]);
    assert.ok(!md.includes("[plan placeholder"));
    assert.ok(!md.includes(TLS_KEY.split("\n")[1]));
    console.log(
      `\n----- sample comment: versions.k3s ${from} -> ${versions.k3s} in dev -----\n${md}----- end of sample -----`,
    );
  });

  it("npm run plan:diff -- HEAD: plans both trees and prints the comment for every committed stack", () => {
    const r = spawnSync(
      process.execPath,
      [require.resolve("ts-node/dist/bin.js"), "--transpile-only", "tools/plan-diff.ts", "HEAD"],
      {
        cwd: PROJECT_DIR,
        encoding: "utf8",
        maxBuffer: 64 * 2 ** 20,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.startsWith(`${MARKER}\n### Offline plan: artifacts against \`HEAD (`));
    for (const s of ["dev", "prod"]) assert.match(r.stdout, new RegExp(`#### \`${s}\`: `));
    const worktrees = spawnSync("git", ["worktree", "list"], { cwd: PROJECT_DIR, encoding: "utf8" }).stdout;
    assert.ok(!worktrees.includes("estate-plan-diff-"), "the base worktree is removed");
  });
});
