/**
 * A real mini Ceph (Debian's packages, Ceph 16 here) in a private network namespace, shaped
 * by a stack's planned Ceph configuration input, so the planned configuration script runs
 * against it unchanged (only `CEPH_CONF` differs from a host).
 *
 * What the lab copies from the plan, and why the script's view matches a real estate:
 * - CRUSH host buckets are named after the planned OSD hosts (`crush_location`, what cephadm
 *   does with host names), one OSD per (host, class) on as many hosts per class as the
 *   biggest pool on that class needs (at least 4 OSDs in all);
 * - each OSD sits on a loop device whose rotational flag is its class's (hdd rotational, flash
 *   not): the per-device fact the script's mapping reads on a mixed host when a loop device
 *   carries no serial (see components/ceph/render.ts). OSDs boot with Ceph's own guess
 *   (`ssd` or `hdd`), so the script's first run has real class changes to make;
 * - the manager is named `<first planned mgr host>.lab` (cephadm: `<host>.<suffix>`) and
 *   radosgw `client.rgw.<first planned rgw host>.lab`; the namespace's `lo` carries those
 *   hosts' planned loopback addresses, so Prometheus and S3 listen where the plan says.
 *
 * Cleanup: only this run's namespace (`<BASE><pid>-<stack>`), its daemons (pid files in its
 * directory whose command line names its ceph.conf), its loop devices (backed by its files)
 * and its directory; also when an earlier run died (its pid no longer runs).
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { CephPlan } from "../../components/ceph/input";
import type { CephDeviceClass } from "../../components/ceph/render";
import { cleanupStale as cleanupStaleNamespaces, isAlive, killNamespace, run, sleep } from "./netns";

const BASE = "ecph";
const DIR_PREFIX = "ceph-lab-";
const HELPER = path.join(__dirname, "ceph-lab.sh");

export interface LabOsd {
  readonly host: string;
  readonly deviceClass: CephDeviceClass;
}

/**
 * The lab's OSDs from the plan: for each class a rule takes, one OSD on each of the first N
 * planned hosts carrying that class (N: the largest pool size on it, and 3 for the default
 * rule, whose pools, RGW's and the manager's, keep Ceph's default size 3); then more OSDs on
 * the first host until there are 4.
 */
export function planLabOsds(plan: CephPlan): LabOsd[] {
  const c = plan.configure;
  const osds: LabOsd[] = [];
  for (const rule of c.rules) {
    const sizes = c.pools.filter((p) => p.rule === rule.name).map((p) => p.size);
    if (rule.name === c.defaultRule) sizes.push(3);
    const want = Math.max(0, ...sizes);
    const hosts = [...new Set(c.osdDisks.filter((d) => d.deviceClass === rule.deviceClass).map((d) => d.host))];
    if (hosts.length < want)
      throw new Error(
        `the plan has ${hosts.length} host(s) with ${rule.deviceClass} OSDs, rule ${rule.name} needs ${want}`,
      );
    for (const host of hosts.slice(0, want)) osds.push({ host, deviceClass: rule.deviceClass });
  }
  while (osds.length < 4) osds.push({ ...osds[0] });
  return osds;
}

export interface ScriptRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

export class CephLab {
  readonly ns: string;
  readonly root: string;
  readonly dir: string;
  readonly conf: string;
  readonly osds: readonly LabOsd[];
  readonly mgrName: string;
  readonly mgrAddress: string;
  readonly rgw?: { readonly name: string; readonly address: string; readonly port: number };
  private nsMade = false;

  constructor(
    readonly stack: string,
    readonly plan: CephPlan,
  ) {
    this.ns = `${BASE}${process.pid}-${stack}`;
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), `${DIR_PREFIX}${stack}-`));
    fs.writeFileSync(path.join(this.root, "owner"), String(process.pid));
    this.dir = path.join(this.root, "c");
    this.conf = path.join(this.dir, "ceph.conf");
    this.osds = planLabOsds(plan);
    const mgr = plan.configure.prometheus.managers[0];
    this.mgrName = `${mgr.host}.lab`;
    this.mgrAddress = mgr.address;
    const r = plan.rgwEndpoints[0];
    if (r) this.rgw = { name: `${r.host}.lab`, address: r.address, port: r.port };
  }

  /** Namespace, planned loopback addresses, then the cluster (mon, mgr, OSDs, radosgw). */
  async up(): Promise<void> {
    run("ip", ["netns", "add", this.ns]);
    this.nsMade = true;
    this.exec("ip", ["link", "set", "lo", "up"]);
    for (const a of new Set([this.mgrAddress, ...(this.rgw ? [this.rgw.address] : [])]))
      this.exec("ip", ["addr", "add", `${a}/32`, "dev", "lo"]);
    const r = await spawnAsync(
      "ip",
      [
        "netns",
        "exec",
        this.ns,
        "bash",
        HELPER,
        "up",
        this.dir,
        this.mgrName,
        this.rgw?.name ?? "-",
        this.rgw ? `${this.rgw.address}:${this.rgw.port}` : "-",
        ...this.osds.map((o) => `${o.host}:${o.deviceClass}`),
      ],
      "",
      process.env,
      300000,
    );
    if (r.status !== 0) throw new Error(`ceph-lab.sh up failed (${r.status}): ${r.stderr}${r.stdout}`);
  }

  /** A command inside the namespace; throws on failure. */
  exec(cmd: string, args: readonly string[], input?: string): string {
    return run("ip", ["netns", "exec", this.ns, cmd, ...args], input);
  }

  /** `ceph --conf <lab conf> ...` inside the namespace. */
  ceph(...args: string[]): string {
    const r = spawnSync("ip", ["netns", "exec", this.ns, "ceph", "--conf", this.conf, ...args], {
      encoding: "utf8",
      timeout: 90000,
    });
    if (r.status !== 0) throw new Error(`ceph ${args.join(" ")}: ${r.stderr || r.stdout || r.signal}`);
    return r.stdout;
  }

  cephJson<T = any>(...args: string[]): T {
    return JSON.parse(this.ceph(...args, "-f", "json")) as T;
  }

  /**
   * Runs a rendered script the way a host does (`bash -s`, script on stdin), with CEPH_CONF
   * set to the lab's. Asynchronous, so a SIGINT/SIGTERM tears the lab down at once.
   */
  runScript(script: string, timeoutMs = 600000): Promise<ScriptRun> {
    return spawnAsync(
      "ip",
      ["netns", "exec", this.ns, "bash", "-s"],
      script,
      { ...process.env, CEPH_CONF: this.conf },
      timeoutMs,
    );
  }

  /** Whether the cluster is HEALTH_OK with every PG of every pool active+clean (none undersized). */
  cleanHealth(): { ok: boolean; detail: string } {
    const s = this.cephJson("status");
    const pools = this.cephJson<{ pool_name: string; pg_num: number }[]>("osd", "pool", "ls", "detail");
    const want = pools.reduce((n, p) => n + p.pg_num, 0);
    const states = (s.pgmap?.pgs_by_state ?? []) as { state_name: string; count: number }[];
    const clean = states.filter((x) => x.state_name === "active+clean").reduce((n, x) => n + x.count, 0);
    const total = s.pgmap?.num_pgs ?? 0;
    const health = s.health?.status;
    const detail = `${health} ${Object.keys(s.health?.checks ?? {}).join(",")}; pgs ${JSON.stringify(states)}; ${total} reported, ${want} in the osdmap`;
    return { ok: health === "HEALTH_OK" && clean === total && total === want, detail };
  }

  /**
   * Polls until clean health holds on two reads at least `mgr_stats_period` (5 s) apart, so
   * lagging PG stats cannot pass for a clean cluster. Returns the seconds until the first
   * of those two reads.
   */
  async waitCleanHealth(timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    let firstOk = 0;
    let last = "";
    while (Date.now() - t0 < timeoutMs) {
      const h = this.cleanHealth();
      last = h.detail;
      if (h.ok) {
        if (!firstOk) firstOk = Date.now();
        else if (Date.now() - firstOk >= 6000) return (firstOk - t0) / 1000;
      } else firstOk = 0;
      await sleep(1500);
    }
    throw new Error(`no clean HEALTH_OK within ${timeoutMs / 1000} s: ${last}`);
  }

  /** The pid of OSD `id` while it runs: its pid file, and its command line names this lab's ceph.conf. */
  osdPid(id: number): number | undefined {
    let pid = 0;
    try {
      pid = Number(fs.readFileSync(path.join(this.dir, "run", `osd.${id}.pid`), "utf8").trim());
    } catch {
      return undefined;
    }
    if (!Number.isSafeInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(this.conf) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stops OSD `id` (SIGTERM: it tells the monitor it is going down) and waits until it has exited. */
  async stopOsd(id: number, timeoutMs = 60000): Promise<void> {
    const pid = this.osdPid(id);
    if (pid === undefined) throw new Error(`osd.${id} is not running`);
    process.kill(pid, "SIGTERM");
    const t0 = Date.now();
    while (isAlive(pid)) {
      if (Date.now() - t0 > timeoutMs)
        throw new Error(`osd.${id} (pid ${pid}) still runs ${timeoutMs / 1000} s after SIGTERM`);
      await sleep(200);
    }
  }

  /** Starts OSD `id` again, as `up` did (it daemonizes; output to its log). */
  startOsd(id: number): void {
    const log = path.join(this.dir, "log", `osd.${id}.out`);
    this.exec("bash", ["-c", 'ceph-osd --conf "$1" -i "$2" </dev/null >>"$3" 2>&1', "_", this.conf, String(id), log]);
  }

  /** Stops the daemons, detaches the loop devices, removes namespace and directory. Safe to call twice. */
  teardown(): void {
    spawnSync("bash", [HELPER, "down", this.dir], { stdio: "ignore", timeout: 60000 });
    if (this.nsMade) killNamespace(this.ns);
    this.nsMade = false;
    detachLoops(this.root);
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** Runs a command with `input` on stdin; resolves with its exit status (null when killed at the timeout). */
function spawnAsync(
  cmd: string,
  args: readonly string[],
  input: string,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<ScriptRun> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, seconds: (Date.now() - t0) / 1000 });
    });
    child.stdin.end(input);
  });
}

/** Detaches the loop devices backed by files under `dir` (`losetup -j`). */
function detachLoops(dir: string): void {
  const c = path.join(dir, "c");
  if (!fs.existsSync(c)) return;
  for (const f of fs.readdirSync(c).filter((n) => n.endsWith(".img"))) {
    const out = spawnSync("losetup", ["-j", path.join(c, f)], { encoding: "utf8" }).stdout ?? "";
    for (const line of out.split("\n")) {
      const dev = line.split(":")[0];
      if (dev) spawnSync("losetup", ["-d", dev], { stdio: "ignore" });
    }
  }
}

/** Removes what earlier runs of this lab left behind when their process died. */
export function cleanupStale(): void {
  cleanupStaleNamespaces(BASE);
  for (const name of fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith(DIR_PREFIX))) {
    const d = path.join(os.tmpdir(), name);
    let owner = 0;
    try {
      owner = Number(fs.readFileSync(path.join(d, "owner"), "utf8"));
    } catch {
      continue; // not ours (no owner file)
    }
    if (!owner || owner === process.pid || isAlive(owner)) continue;
    spawnSync("bash", [HELPER, "down", path.join(d, "c")], { stdio: "ignore", timeout: 60000 });
    detachLoops(d);
    fs.rmSync(d, { recursive: true, force: true });
  }
}
