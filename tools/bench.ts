/**
 * Benchmark of the offline plan (not a timed test): prod, and synthetic estates of 100
 * and 1,000 servers (20 servers a rack, two leaves a rack, a spine per ten racks, at
 * least two). Each plan runs in its own process; wall time includes process start. Peak
 * RSS per resource is the figure to compare across versions: the tiers add resources.
 *
 * The plans are written to a RAM-backed folder (/dev/shm when it is a writable tmpfs), so
 * the figure is the plan's and not the disk's: on this lab's ext4 (no journal) creating a
 * file scans every inode of its group deleted in the last 1-5 minutes (`recently_deleted`
 * in `find_inode_bit`, seen with `perf record`), so the same 1,000-server plan, ~18,000
 * files and folders, took 10-22 s depending on what the test suite had just deleted.
 * `--dir <folder>` measures on a disk of your choice.
 *
 *   npm run bench [-- --sizes 100,1000] [--dir /path/on/disk]
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Command } from "commander";
import { planProcessArgs } from "./plan";
import { writeSynthStack } from "./synth";

const PROJECT_DIR = path.resolve(__dirname, "..");

interface Run {
  readonly name: string;
  readonly wallSeconds: number;
  readonly peakMiB: number;
  readonly resources: number;
  /** One-minute load average when the run ended: wall times are comparable only at a similar load. */
  readonly load: number;
}

function runPlan(name: string, stackFile: string | undefined, out: string): Run {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, planProcessArgs(name, out, stackFile), {
    cwd: PROJECT_DIR,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const wallSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(`plan ${name} failed:\n${r.stderr}`);
  const figure = (key: string): number =>
    Number(new RegExp(`^figure plan\\.\\S+\\.${key} (\\S+)`, "m").exec(r.stdout)?.[1]);
  const load = os.loadavg()[0];
  return { name, wallSeconds, peakMiB: figure("peak_rss"), resources: figure("resources"), load };
}

/** /dev/shm when it is a tmpfs this process may write, else the system's temporary folder. */
function ramFolder(): string {
  try {
    const mounts = fs.readFileSync("/proc/mounts", "utf8");
    const shm = mounts.split("\n").some((l) => /^\S+ \/dev\/shm tmpfs /.test(l));
    if (shm) {
      fs.accessSync("/dev/shm", fs.constants.W_OK);
      return "/dev/shm";
    }
  } catch {
    // no /proc/mounts or no access: the temporary folder
  }
  return os.tmpdir();
}

function main(): void {
  const o = new Command()
    .name("npm run bench --")
    .option("--sizes <list>", "synthetic estate sizes in servers", "100,1000")
    .option("--dir <folder>", "where the plans are written (default: /dev/shm if a tmpfs, else the temporary folder)")
    .parse()
    .opts<{ sizes: string; dir?: string }>();
  const sizes = o.sizes.split(",").map(Number);
  const parent = o.dir ? path.resolve(o.dir) : ramFolder();
  fs.mkdirSync(parent, { recursive: true });
  console.log(`bench: plans written under ${parent}`);
  const tmp = fs.mkdtempSync(path.join(parent, "estate-bench-"));
  const runs: Run[] = [];
  try {
    runs.push(runPlan("prod", undefined, path.join(tmp, "prod")));
    for (const n of sizes) {
      const racks = Math.max(1, Math.round(n / 20));
      const spines = Math.max(2, Math.ceil(racks / 10));
      const name = `bench-${n}`;
      const file = path.join(tmp, `Pulumi.${name}.yaml`);
      writeSynthStack(file, n, racks, spines);
      runs.push(runPlan(name, file, path.join(tmp, name)));
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  for (const r of runs) {
    console.log(`figure bench.${r.name}.wall ${r.wallSeconds.toFixed(2)} s`);
    console.log(`figure bench.${r.name}.peak_rss ${r.peakMiB} MiB`);
    console.log(`figure bench.${r.name}.resources ${r.resources} resources`);
    console.log(`figure bench.${r.name}.peak_per_resource ${((r.peakMiB * 1024) / r.resources).toFixed(0)} KiB`);
    console.log(`figure bench.${r.name}.load ${r.load.toFixed(2)} loadavg_1m`);
  }
  const prod = runs.find((r) => r.name === "prod");
  // Past what a small plan needs (the runtime, the modules): the bytes each further resource costs.
  if (prod)
    for (const r of runs.filter((x) => x.name.startsWith("bench-"))) {
      const marginal = ((r.peakMiB - prod.peakMiB) * 1024) / (r.resources - prod.resources);
      console.log(`figure bench.${r.name}.marginal_per_resource ${marginal.toFixed(0)} KiB`);
    }
  const small = runs.find((r) => r.name === "bench-100");
  const large = runs.find((r) => r.name === "bench-1000");
  if (small && large) {
    const ratio = large.wallSeconds / small.wallSeconds;
    console.log(`figure bench.ratio_1000_to_100 ${ratio.toFixed(1)} x`);
    const goals = [
      [`1,000 servers in at most 12 s`, large.wallSeconds <= 12],
      [`1,000 servers at most 900 MiB peak`, large.peakMiB <= 900],
      [`1,000-server time at most 12x the 100-server time`, ratio <= 12],
    ] as const;
    for (const [goal, met] of goals) console.log(`goal ${met ? "met" : "MISSED"}: ${goal}`);
  }
}

main();
