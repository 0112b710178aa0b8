/** Runs the ops CLI in this process (fast) or as `npm run ops` does (stdin), capturing what it prints. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { main } from "../../ops/cli";
import { PROJECT_DIR } from "./plan";

export interface OpsRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `npm run ops -- <argv>` in this process. */
export async function ops(argv: readonly string[]): Promise<OpsRun> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  const write = process.stderr.write.bind(process.stderr);
  console.log = (...a: unknown[]) => void out.push(a.join(" "));
  console.error = (...a: unknown[]) => void err.push(a.join(" "));
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    const status = await main(argv);
    return { status, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
    process.stderr.write = write;
    process.exitCode = 0;
  }
}

/** The CLI in a process of its own, outputs on stdin (as a user pipes them); `prefix` e.g. `ip netns exec <ns>`. */
export function opsProcess(argv: readonly string[], stdin: string, prefix: readonly string[] = []): OpsRun {
  const cmd = [
    ...prefix,
    process.execPath,
    require.resolve("ts-node/dist/bin.js"),
    "--transpile-only",
    path.join(PROJECT_DIR, "ops", "cli.ts"),
    ...argv,
  ];
  const r = spawnSync(cmd[0], cmd.slice(1), { input: stdin, encoding: "utf8", cwd: PROJECT_DIR, timeout: 60000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh temporary folder. */
export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

/** Outputs written to a file in `dir`; returns its path. */
export function outputsFile(dir: string, outputs: unknown, name = "outputs.json"): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof outputs === "string" ? outputs : JSON.stringify(outputs));
  return file;
}

/** Every file below `dir`, relative. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}
