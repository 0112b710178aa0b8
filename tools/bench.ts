/**
 * Benchmark of the offline plan (not a timed test): prod, and synthetic estates of 100
 * and 1,000 servers (20 servers a rack, two leaves a rack, a spine per ten racks, at
 * least two). Each plan runs in its own process; wall time includes process start. Peak
 * RSS per resource is the figure to compare across versions: the tiers add resources.
 *
 *   npm run bench [-- --sizes 100,1000]
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

function main(): void {
  const o = new Command()
    .name("npm run bench --")
    .option("--sizes <list>", "synthetic estate sizes in servers", "100,1000")
    .parse()
    .opts<{ sizes: string }>();
  const sizes = o.sizes.split(",").map(Number);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "estate-bench-"));
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
