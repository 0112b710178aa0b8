/**
 * Network-namespace housekeeping shared by the labs. Each lab names its namespaces
 * `<base><pid>-<node>`; a namespace whose owning pid no longer runs is left over from a
 * run that died, and is removed (its processes killed first: deleting a namespace does not
 * kill what runs in it).
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";

/** Runs a command and returns its stdout; a failure names the command and its stderr. */
export function run(cmd: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], input, timeout: 30000 });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${err.stderr || err.stdout || err.message}`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Running, not a zombie (an orphan's zombie stays until the container's init reaps it). */
export function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** The pids running inside namespace `ns`. */
export function nsPids(ns: string): number[] {
  const r = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" });
  return (r.stdout ?? "")
    .split("\n")
    .map(Number)
    .filter((n) => n > 0);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** SIGTERM, then SIGKILL, what runs in `ns`, then deletes it. Returns the pids it found. */
export function killNamespace(ns: string): number[] {
  const found = new Set<number>();
  for (const [sig, waits] of [
    ["SIGTERM", 20],
    ["SIGKILL", 20],
  ] as const) {
    for (const p of nsPids(ns)) {
      found.add(p);
      signal(p, sig);
    }
    for (let i = 0; i < waits && nsPids(ns).length; i++) sleepSync(sig === "SIGTERM" ? 100 : 50);
  }
  spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  return [...found];
}

/** Removes the namespaces of earlier runs of a lab (`<base><pid>-...`) whose process is gone. */
export function cleanupStale(base: string, afterKill?: (pids: number[]) => void): void {
  const list = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  const owner = new RegExp(`^${base}(\\d+)-`);
  for (const ns of list.split("\n").map((l) => l.split(" ")[0])) {
    const pid = Number(owner.exec(ns)?.[1]);
    if (!pid || (pid !== process.pid && isAlive(pid))) continue;
    const pids = killNamespace(ns);
    afterKill?.(pids);
  }
}
