/**
 * The artifact diff of a change: plans every stack at a base ref and in the working tree
 * (offline, `tools/plan.ts`) and prints, as Markdown, which artifacts were added, removed
 * or changed, with a unified diff for each changed one. The pull-request workflow posts it
 * as its one comment; locally:
 *
 *   npm run plan:diff -- <base-ref> [--out diff.md]
 *   npm run plan:diff -- --base-dir <plans> --head-dir <plans>   (two folders of plan/<stack>/)
 *
 * The base is checked out with `git worktree` into a temporary folder that reuses this
 * tree's node_modules (a symlink) when package-lock.json is the same, else runs `npm ci`
 * there. Secrets: the plan writes "[secret]" in place of every secret part of an artifact
 * and the diff shows nothing else of it; before printing, the text is searched for every
 * placeholder the plan puts in place of a secret (the plan-only TLS key among them) and for
 * credential shapes (a PEM private key, a token), and the tool stops (exit 2) instead of
 * printing one.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Command } from "commander";
import { secretShape } from "../policy/read";
import { placeholderFor, readStackConfig } from "./stackconfig";

const PROJECT_DIR = path.resolve(__dirname, "..");

/** The first line of the comment: the workflow finds its own comment by it. */
export const MARKER = "<!-- estate-plan-diff -->";

/** GitHub refuses comments over 65,536 characters; diffs past this budget are cut. */
const BUDGET = 60_000;

interface IndexEntry {
  readonly path: string;
  readonly kind: string;
  readonly target: string;
  readonly sha256?: string;
  readonly secret?: boolean;
  readonly unknown?: boolean;
}

export interface StackDiff {
  readonly stack: string;
  readonly added: IndexEntry[];
  readonly removed: IndexEntry[];
  readonly changed: { entry: IndexEntry; diff: string }[];
  readonly resources: { readonly base: number; readonly head: number };
}

function readIndex(dir: string): Map<string, IndexEntry> {
  const file = path.join(dir, "artifacts", "INDEX.json");
  if (!fs.existsSync(file)) return new Map();
  return new Map((JSON.parse(fs.readFileSync(file, "utf8")) as IndexEntry[]).map((e) => [e.path, e]));
}

function resourceCount(dir: string): number {
  const file = path.join(dir, "resources.json");
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as unknown[]).length : 0;
}

/** A unified diff of two files (git's, no colour), without the `diff --git`/index header lines. */
export function unifiedDiff(a: string, b: string, label: string): string {
  const r = spawnSync("git", ["diff", "--no-index", "--no-color", "--no-ext-diff", "-U3", "--", a, b], {
    encoding: "utf8",
    maxBuffer: 64 * 2 ** 20,
  });
  if (r.status !== 0 && r.status !== 1) throw new Error(`git diff failed: ${r.stderr}`);
  const lines = r.stdout.split("\n");
  const start = lines.findIndex((l) => l.startsWith("@@"));
  return [`--- a/${label}`, `+++ b/${label}`, ...(start < 0 ? [] : lines.slice(start))].join("\n").trimEnd();
}

/** The artifact changes between two plan folders of one stack. */
export function diffStack(stack: string, baseDir: string, headDir: string): StackDiff {
  const base = readIndex(baseDir);
  const head = readIndex(headDir);
  const added = [...head.values()].filter((e) => !base.has(e.path));
  const removed = [...base.values()].filter((e) => !head.has(e.path));
  const changed: StackDiff["changed"] = [];
  for (const e of head.values()) {
    const b = base.get(e.path);
    if (!b) continue;
    const fa = path.join(baseDir, "artifacts", e.path);
    const fb = path.join(headDir, "artifacts", e.path);
    const same =
      b.sha256 && e.sha256 ? b.sha256 === e.sha256 : fs.readFileSync(fa, "utf8") === fs.readFileSync(fb, "utf8");
    if (same && b.kind === e.kind && b.target === e.target) continue;
    changed.push({ entry: e, diff: e.secret || b.secret ? "" : unifiedDiff(fa, fb, e.path) });
  }
  const byPath = (x: { path: string }, y: { path: string }): number => x.path.localeCompare(y.path);
  added.sort(byPath);
  removed.sort(byPath);
  changed.sort((x, y) => byPath(x.entry, y.entry));
  return { stack, added, removed, changed, resources: { base: resourceCount(baseDir), head: resourceCount(headDir) } };
}

/** The Markdown comment for the diffs of every stack. */
export function renderMarkdown(base: string, diffs: readonly StackDiff[]): string {
  const out = [MARKER, `### Offline plan: artifacts against \`${base}\``, ""];
  let budget = BUDGET;
  for (const d of diffs) {
    const n = d.added.length + d.removed.length + d.changed.length;
    out.push(
      `#### \`${d.stack}\`: ${n ? `${d.changed.length} changed, ${d.added.length} added, ${d.removed.length} removed` : "no artifact changed"} (resources ${d.resources.base} → ${d.resources.head})`,
      "",
    );
    if (!n) continue;
    out.push("| artifact | change | kind | target |", "| --- | --- | --- | --- |");
    const row = (e: IndexEntry, what: string): string => `| \`${e.path}\` | ${what} | ${e.kind} | ${e.target} |`;
    for (const c of d.changed) out.push(row(c.entry, c.entry.secret ? "changed (secret, not shown)" : "changed"));
    for (const e of d.added) out.push(row(e, "added"));
    for (const e of d.removed) out.push(row(e, "removed"));
    out.push("");
    for (const c of d.changed) {
      if (!c.diff) continue;
      const fence = c.diff.includes("```") ? "````" : "```";
      const block = [
        `<details><summary><code>${c.entry.path}</code></summary>`,
        "",
        `${fence}diff`,
        c.diff,
        fence,
        "",
        "</details>",
        "",
      ];
      const text = block.join("\n");
      if (text.length > budget) {
        out.push(
          `<code>${c.entry.path}</code>: diff left out (comment size limit); run \`npm run plan:diff\` locally.`,
          "",
        );
        continue;
      }
      budget -= text.length;
      out.push(...block);
    }
  }
  return `${out.join("\n").trimEnd()}\n`;
}

/** Stops when `text` holds a plan placeholder of a secret or a credential shape. */
export function assertNoSecret(text: string, placeholders: readonly string[]): void {
  for (const p of placeholders)
    for (const line of p.split("\n").map((l) => l.trim()))
      if (line.length >= 20 && !/^-----(BEGIN|END) /.test(line) && text.includes(line))
        throw new Error("the diff would show a secret placeholder's text; refusing to print it");
  const shape = secretShape(text);
  if (shape) throw new Error(`the diff would show ${shape}; refusing to print it`);
}

/** The committed stacks of a tree: `Pulumi.<stack>.yaml` tracked by git. */
function stacksOf(dir: string): string[] {
  const out = execFileSync("git", ["ls-files", "Pulumi.*.yaml"], { cwd: dir, encoding: "utf8" });
  return out
    .split("\n")
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => !!s)
    .sort();
}

/** Plans `stack` of the project at `dir` into `out` (a failing plan is an error that names the tree). */
function planInto(dir: string, stack: string, out: string): void {
  const r = spawnSync(
    process.execPath,
    [
      path.join(dir, "node_modules/ts-node/dist/bin.js"),
      "--transpile-only",
      "tools/plan.ts",
      "--stack",
      stack,
      "--out",
      out,
    ],
    { cwd: dir, encoding: "utf8", maxBuffer: 64 * 2 ** 20 },
  );
  if (r.status !== 0) throw new Error(`plan of ${stack} in ${dir} failed:\n${r.stderr || r.stdout}`);
}

/** Every placeholder the plan writes for a secret of these stacks (to check the output against). */
function placeholdersOf(stacks: readonly string[]): string[] {
  const keys = new Set<string>();
  for (const s of stacks) {
    try {
      for (const k of readStackConfig(PROJECT_DIR, s).secretKeys) keys.add(k);
    } catch {
      // a stack file the plan rejects has its own error there
    }
  }
  for (const k of ["estate:sshPrivateKey", "estate:tlsKey", "estate:tlsCertificate"]) keys.add(k);
  return [...keys].map(placeholderFor);
}

/** Plans the base ref and the working tree; returns the Markdown. */
export function planDiff(baseRef: string): string {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "estate-plan-diff-"));
  const tree = path.join(tmp, "base");
  const sha = execFileSync("git", ["rev-parse", "--verify", `${baseRef}^{commit}`], {
    cwd: PROJECT_DIR,
    encoding: "utf8",
  }).trim();
  execFileSync("git", ["worktree", "add", "--detach", "--quiet", tree, sha], { cwd: PROJECT_DIR, stdio: "pipe" });
  try {
    const lock = (d: string): string =>
      fs.existsSync(path.join(d, "package-lock.json"))
        ? fs.readFileSync(path.join(d, "package-lock.json"), "utf8")
        : "";
    if (lock(tree) === lock(PROJECT_DIR))
      fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(tree, "node_modules"), "dir");
    else execFileSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: tree, stdio: "pipe" });
    const headStacks = stacksOf(PROJECT_DIR);
    const baseStacks = stacksOf(tree);
    const stacks = [...new Set([...headStacks, ...baseStacks])].sort();
    for (const s of baseStacks) planInto(tree, s, path.join(tmp, "plans-base", s));
    for (const s of headStacks) planInto(PROJECT_DIR, s, path.join(tmp, "plans-head", s));
    const diffs = stacks.map((s) => diffStack(s, path.join(tmp, "plans-base", s), path.join(tmp, "plans-head", s)));
    const md = renderMarkdown(`${baseRef}` + (baseRef === sha ? "" : ` (${sha.slice(0, 12)})`), diffs);
    assertNoSecret(md, placeholdersOf(stacks));
    return md;
  } finally {
    spawnSync("git", ["worktree", "remove", "--force", tree], { cwd: PROJECT_DIR, stdio: "pipe" });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Diffs two folders that each hold plan/<stack>/ folders (CI: the plans of both sides). */
export function planDiffDirs(baseDir: string, headDir: string, label: string): string {
  const list = (d: string): string[] =>
    fs.existsSync(d) ? fs.readdirSync(d).filter((s) => fs.existsSync(path.join(d, s, "resources.json"))) : [];
  const stacks = [...new Set([...list(baseDir), ...list(headDir)])].sort();
  const md = renderMarkdown(
    label,
    stacks.map((s) => diffStack(s, path.join(baseDir, s), path.join(headDir, s))),
  );
  assertNoSecret(md, placeholdersOf(stacks));
  return md;
}

function main(): void {
  const cli = new Command()
    .name("npm run plan:diff --")
    .description("Markdown diff of the offline plans' artifacts: a base ref against the working tree")
    .argument("[base-ref]", "git ref to compare against (e.g. origin/main, HEAD~1)")
    .option("--base-dir <dir>", "compare two existing folders of plans instead: the base")
    .option("--head-dir <dir>", "... and the head")
    .option("--label <text>", "what the base is called in the heading (with --base-dir)", "base")
    .option("-o, --out <file>", "write the Markdown here instead of stdout")
    .parse();
  const o = cli.opts<{ baseDir?: string; headDir?: string; label: string; out?: string }>();
  const [ref] = cli.args;
  try {
    let md: string;
    if (o.baseDir || o.headDir) {
      if (!o.baseDir || !o.headDir) throw new Error("--base-dir and --head-dir go together");
      md = planDiffDirs(o.baseDir, o.headDir, o.label);
    } else {
      if (!ref) throw new Error("name the base ref: npm run plan:diff -- <base-ref>");
      md = planDiff(ref);
    }
    if (o.out) fs.writeFileSync(o.out, md);
    else process.stdout.write(md);
  } catch (e) {
    console.error(`plan:diff: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  }
}

if (require.main === module) main();
