/**
 * Checks many shell texts at once, the way the hosts will read them: `shellcheck -S
 * warning -s bash` in one process for all of them, and `bash -n` for each (one `xargs`,
 * two at a time). Both return the problems per text, keyed like the input, so a test
 * asserts `{}` and a failure names the script. shellcheck is required (installed through
 * `requireTool` when it can be, never skipped).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireTool } from "./tools";

/** Texts by name; an array is keyed by index. */
export type Texts = Readonly<Record<string, string>> | readonly string[];

/** Problems by the name of the text that has them; texts without problems are absent. */
export type Findings = Record<string, string[]>;

interface ShellcheckComment {
  file: string;
  line: number;
  column: number;
  level: string;
  code: number;
  message: string;
}

/** Writes the texts to a fresh folder; returns file -> name, and removes the folder after `use`. */
function withFiles<T>(texts: Texts, use: (files: Map<string, string>) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "estate-sh-"));
  try {
    const files = new Map<string, string>();
    Object.entries(texts).forEach(([name, text], i) => {
      const file = path.join(dir, `${i}.sh`);
      fs.writeFileSync(file, text);
      files.set(file, name);
    });
    return use(files);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `shellcheck -S warning -s bash` on every text, in one process. */
export function shellcheckAll(texts: Texts): Findings {
  requireTool("shellcheck", "shellcheck");
  return withFiles(texts, (files) => {
    const out: Findings = {};
    if (files.size === 0) return out;
    const r = spawnSync("shellcheck", ["-S", "warning", "-s", "bash", "-f", "json1", ...files.keys()], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.error) throw r.error;
    // Exit 0: clean; 1: findings (in the JSON); anything else: shellcheck itself failed.
    if (r.status !== 0 && r.status !== 1) throw new Error(`shellcheck failed (${r.status}): ${r.stderr}`);
    const comments = (JSON.parse(r.stdout) as { comments: ShellcheckComment[] }).comments;
    for (const c of comments) {
      const name = files.get(c.file) ?? c.file;
      (out[name] ??= []).push(`${c.line}:${c.column}: ${c.level} SC${c.code}: ${c.message}`);
    }
    return out;
  });
}

/**
 * `bash -n` on every text: bash parses only its first file argument, so one `bash -n`
 * per text, driven by a loop in a few shells (xargs, two at a time) rather than a shell
 * per text.
 */
export function bashSyntaxAll(texts: Texts): Findings {
  return withFiles(texts, (files) => {
    const out: Findings = {};
    if (files.size === 0) return out;
    const loop = `for f; do
  out=$(bash -n "$f" 2>&1 </dev/null) || out="$out (exit $?)"
  [[ -z "$out" ]] || printf '%s\\t%s\\0' "$f" "$out"
done`;
    const r = spawnSync("xargs", ["-0", "-n", "100", "-P", "2", "bash", "--norc", "-c", loop, "bash"], {
      input: [...files.keys()].join("\0"),
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`xargs bash -n failed (${r.status}): ${r.stderr}`);
    for (const record of r.stdout.split("\0")) {
      const tab = record.indexOf("\t");
      if (tab < 0) continue;
      const name = files.get(record.slice(0, tab)) ?? record.slice(0, tab);
      (out[name] ??= []).push(...record.slice(tab + 1).split("\n"));
    }
    return out;
  });
}

/** Both checks; the problems of each text together. */
export function checkScripts(texts: Texts): Findings {
  const out: Findings = {};
  for (const f of [bashSyntaxAll(texts), shellcheckAll(texts)])
    for (const [name, lines] of Object.entries(f)) (out[name] ??= []).push(...lines);
  return out;
}
