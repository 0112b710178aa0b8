/**
 * A live spine-leaf fabric in network namespaces, built from a plan's `fabric` stack
 * output and its `frr` artifacts: one namespace per switch and server, one veth per
 * planned link with the planned interface names (created directly inside the namespaces),
 * real zebra/bfdd/bgpd per namespace loading the planned frr.conf byte for byte.
 *
 * Only paths differ from a real host, and they are daemon flags, not config text: each
 * node's frr.conf sits in its own folder `<run>/<node>/frr.conf` (instead of
 * /etc/frr/frr.conf), and the vty sockets, zserv.api, bfdd control socket and pid files
 * live in that folder too (instead of /var/run/frr).
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { FabricOutput } from "../../components/fabric/output";
import { cleanupStale as cleanupStaleNamespaces, killNamespace, nsPids, run, sleep, sleepSync } from "./netns";

const FRR = "/usr/lib/frr";
/** Namespaces of this suite are named `<BASE><pid>-<node>`; a pid that no longer runs marks a stale run. */
const BASE = "efab";

/** The stack output `fabric` the lab builds from. */
export type FabricTopology = Pick<FabricOutput, "switches" | "servers" | "links">;

/** Deletes namespaces (and kills their processes) left by earlier runs whose process is gone. */
export function cleanupStale(): void {
  cleanupStaleNamespaces(BASE, removeDaemonDirs);
}

/** FRR daemons leave /var/tmp/frr/<daemon>.<pid>/ behind when killed: remove those of our PIDs. */
function removeDaemonDirs(pids: readonly number[]): void {
  for (const p of pids)
    for (const d of ["zebra", "bgpd", "bfdd"]) fs.rmSync(`/var/tmp/frr/${d}.${p}`, { recursive: true, force: true });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** A copy of a planned frr.conf with BFD switched off: the profile block and every `neighbor ... bfd` line removed. */
export function withoutBfd(conf: string): string {
  const out: string[] = [];
  let inBfd = false;
  for (const line of conf.split("\n")) {
    if (line === "bfd") inBfd = true;
    else if (inBfd && line === "exit") inBfd = false;
    else if (!inBfd && !/^\s*neighbor \S+ bfd( profile \S+)?$/.test(line)) out.push(line);
  }
  return out.join("\n");
}

export interface BfdPeer {
  readonly status: string;
  readonly interface?: string;
  readonly peer: string;
  readonly "receive-interval": number;
  readonly "transmit-interval": number;
  readonly "detect-multiplier": number;
}

export interface Outage {
  readonly gapMs: number;
  readonly replies: number;
}

export class FabricLab {
  readonly prefix = `${BASE}${process.pid}-`;
  readonly root: string;
  private readonly made = new Set<string>();
  readonly spines: string[];
  readonly leaves: string[];
  readonly servers: string[];
  readonly loopback = new Map<string, string>();

  constructor(
    readonly topology: string,
    readonly fabric: FabricTopology,
  ) {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), `fabric-lab-${topology}-`));
    fs.chmodSync(this.root, 0o755);
    this.spines = fabric.switches.filter((s) => s.role === "spine").map((s) => s.name);
    this.leaves = fabric.switches.filter((s) => s.role === "leaf").map((s) => s.name);
    this.servers = fabric.servers.map((s) => s.name);
    for (const n of [...fabric.switches, ...fabric.servers]) this.loopback.set(n.name, n.loopback);
  }

  ns(node: string): string {
    return `${this.prefix}${node}`;
  }

  exec(node: string, cmd: string, args: readonly string[], input?: string): string {
    return run("ip", ["netns", "exec", this.ns(node), cmd, ...args], input);
  }

  /** Namespaces and veths; forwarding on switches; rp_filter loose everywhere (as the node baseline). */
  build(): void {
    const nodes = [...this.spines, ...this.leaves, ...this.servers];
    for (const n of nodes) {
      run("ip", ["netns", "add", this.ns(n)]);
      this.made.add(n);
      this.exec(n, "ip", ["link", "set", "lo", "up"]);
      const router = !this.servers.includes(n);
      const sysctls = [
        "net.ipv4.conf.all.rp_filter=2",
        "net.ipv4.conf.default.rp_filter=2",
        `net.ipv4.ip_forward=${router ? 1 : 0}`,
        `net.ipv6.conf.all.forwarding=${router ? 1 : 0}`,
        "net.ipv4.fib_multipath_hash_policy=1",
      ];
      this.exec(n, "sysctl", ["-q", "-w", ...sysctls]);
    }
    for (const l of this.fabric.links) {
      run("ip", [
        "link",
        "add",
        l.a.iface,
        "netns",
        this.ns(l.a.node),
        "type",
        "veth",
        "peer",
        "name",
        l.b.iface,
        "netns",
        this.ns(l.b.node),
      ]);
      this.exec(l.a.node, "ip", ["link", "set", l.a.iface, "up"]);
      this.exec(l.b.node, "ip", ["link", "set", l.b.iface, "up"]);
    }
  }

  private dir(node: string): string {
    return path.join(this.root, node);
  }

  /** Starts zebra, bfdd and bgpd in every namespace and loads `confs` (node -> frr.conf text, unchanged). */
  start(confs: ReadonlyMap<string, string>): void {
    for (const node of this.made) {
      const d = this.dir(node);
      fs.rmSync(d, { recursive: true, force: true });
      fs.mkdirSync(d);
      const conf = confs.get(node);
      if (conf === undefined) throw new Error(`no planned frr.conf for ${node}`);
      fs.writeFileSync(path.join(d, "frr.conf"), conf);
      run("chown", ["-R", "frr:frr", d]);
      const common = [
        "-d",
        "-F",
        "datacenter",
        "-P",
        "0",
        "--vty_socket",
        d,
        "-z",
        `${d}/zserv.api`,
        "-f",
        "/dev/null",
      ];
      this.exec(node, `${FRR}/zebra`, [...common, "-i", `${d}/zebra.pid`]);
      this.waitFor(`${d}/zserv.api`);
      this.exec(node, `${FRR}/bfdd`, [...common, "-i", `${d}/bfdd.pid`, "--bfdctl", `${d}/bfdd.sock`]);
      this.exec(node, `${FRR}/bgpd`, [...common, "-i", `${d}/bgpd.pid`]);
    }
    for (const node of this.made) {
      const d = this.dir(node);
      this.waitFor(`${d}/bgpd.vty`);
      this.waitFor(`${d}/bfdd.vty`);
      const r = spawnSync("ip", ["netns", "exec", this.ns(node), "vtysh", "--vty_socket", d, "--config_dir", d, "-b"], {
        encoding: "utf8",
      });
      if (r.status !== 0)
        throw new Error(`loading the planned frr.conf of ${node} failed (${r.status}): ${r.stdout}${r.stderr}`);
    }
  }

  private waitFor(file: string): void {
    for (let i = 0; i < 100; i++) {
      if (fs.existsSync(file)) return;
      sleepSync(50);
    }
    throw new Error(`${file} did not appear within 5 s`);
  }

  /** Runs configuration commands on a node's live daemons (`configure terminal` first). */
  configure(node: string, commands: readonly string[]): string {
    const args = ["--vty_socket", this.dir(node), "-c", "configure terminal"];
    for (const c of commands) args.push("-c", c);
    return this.exec(node, "vtysh", args);
  }

  vtysh(node: string, command: string): string {
    const d = this.dir(node);
    return this.exec(node, "vtysh", ["--vty_socket", d, "-c", command]);
  }

  /** Problems that keep the fabric from being converged; empty when it is. */
  problems(): string[] {
    const out: string[] = [];
    const sessions = new Map<string, number>();
    for (const l of this.fabric.links)
      for (const n of [l.a.node, l.b.node]) sessions.set(n, (sessions.get(n) ?? 0) + 1);
    for (const node of this.made) {
      const want = sessions.get(node) ?? 0;
      const bgp = JSON.parse(this.vtysh(node, "show bgp ipv4 unicast summary json")) as {
        peers?: Record<string, { state: string }>;
      };
      const up = Object.values(bgp.peers ?? {}).filter((p) => p.state === "Established").length;
      if (up !== want) out.push(`${node}: ${up}/${want} BGP sessions Established`);
      const bfd = JSON.parse(this.vtysh(node, "show bfd peers json")) as { status: string }[];
      const bfdUp = bfd.filter((p) => p.status === "up").length;
      if (bfd.length && bfdUp !== want) out.push(`${node}: ${bfdUp}/${want} BFD peers up`);
    }
    for (const s of this.servers) {
      const routes = this.routes(s);
      for (const t of this.servers)
        if (t !== s && (routes.get(this.loopback.get(t)!) ?? 0) < 2)
          out.push(`${s}: ${routes.get(this.loopback.get(t)!) ?? 0} next hops to ${t}, want 2 (both uplinks)`);
    }
    return out;
  }

  /** BFD peers per node, for the assertion that BFD runs on every session. */
  bfdPeers(node: string): BfdPeer[] {
    return JSON.parse(this.vtysh(node, "show bfd peers json")) as BfdPeer[];
  }

  /** Kernel IPv4 routes of a node: /32 destination -> number of next hops. */
  routes(node: string): Map<string, number> {
    const list = JSON.parse(this.exec(node, "ip", ["-j", "-4", "route", "show"])) as {
      dst: string;
      nexthops?: unknown[];
      gateway?: string;
      via?: unknown;
    }[];
    return new Map(list.map((r) => [r.dst, r.nexthops ? r.nexthops.length : 1]));
  }

  /** Waits until converged; returns the milliseconds it took from `since`. */
  waitConverged(since: number, limitMs = 30000): number {
    let last: string[] = [];
    while (Date.now() - since < limitMs) {
      last = this.problems();
      if (last.length === 0) return Date.now() - since;
      sleepSync(200);
    }
    throw new Error(`${this.topology}: fabric not converged after ${limitMs} ms:\n  ${last.join("\n  ")}`);
  }

  /** Server pairs that cannot ping each other's loopback (source = own loopback). */
  unreachablePairs(except: readonly string[] = []): string[] {
    const out: string[] = [];
    for (const s of this.servers) {
      const targets = this.servers.filter((t) => t !== s && !except.includes(t)).map((t) => this.loopback.get(t)!);
      const script = `for d in "$@"; do ping -n -q -c 1 -W 1 -I ${this.loopback.get(s)} "$d" >/dev/null || echo "$d"; done`;
      const failed = this.exec(s, "bash", ["-c", script, "pairs", ...targets])
        .split("\n")
        .filter(Boolean);
      for (const f of failed) out.push(`${s} -> ${f}`);
    }
    return out;
  }

  /** Received packets of a node over all its interfaces. */
  rxPackets(node: string): number {
    const out = this.exec(node, "bash", ["-c", "cat /sys/class/net/*/statistics/rx_packets"]);
    return out
      .split("\n")
      .filter(Boolean)
      .reduce((n, x) => n + Number(x), 0);
  }

  /** Silent failure: links stay up, every packet in, through and out of the node is dropped. */
  blackhole(node: string): void {
    const rules = `table inet estate_blackhole {
  chain input { type filter hook input priority -500; policy drop; }
  chain forward { type filter hook forward priority -500; policy drop; }
  chain output { type filter hook output priority -500; policy drop; }
}
`;
    this.exec(node, "nft", ["-f", "-"], rules);
  }

  /** Ends a blackhole and makes the node reconnect at once instead of at its next connect-retry. */
  restore(node: string): void {
    this.exec(node, "nft", ["delete", "table", "inet", "estate_blackhole"]);
    this.vtysh(node, "clear bgp *");
  }

  /**
   * Runs `ping -D -i 0.01` from `src` to `dst` (loopback to loopback); after 1 s picks, from
   * `candidates`, the node that carries the flow (most packets received meanwhile), fails
   * it silently, keeps the flow `afterMs` longer and returns the largest gap between replies.
   */
  async outage(
    src: string,
    dst: string,
    candidates: readonly string[],
    afterMs: number,
  ): Promise<Outage & { failed: string }> {
    const log = path.join(this.root, `ping-${src}-${dst}-${Date.now()}.log`);
    const fd = fs.openSync(log, "w");
    const ping = spawn(
      "ip",
      [
        "netns",
        "exec",
        this.ns(src),
        "ping",
        "-n",
        "-D",
        "-i",
        "0.01",
        "-W",
        "1",
        "-I",
        this.loopback.get(src)!,
        this.loopback.get(dst)!,
      ],
      { stdio: ["ignore", fd, "ignore"] },
    );
    fs.closeSync(fd);
    const exited = new Promise<void>((resolve) => ping.on("exit", () => resolve()));
    try {
      await sleep(300);
      const before = candidates.map((c) => this.rxPackets(c));
      await sleep(700);
      const deltas = candidates.map((c, i) => this.rxPackets(c) - before[i]);
      const failed = candidates[deltas.indexOf(Math.max(...deltas))];
      this.blackhole(failed);
      const failedAt = Date.now() / 1000;
      await sleep(afterMs);
      ping.kill("SIGINT");
      await Promise.race([exited, sleep(3000)]);
      const stamps = fs
        .readFileSync(log, "utf8")
        .split("\n")
        .map((l) => /^\[(\d+\.\d+)\] \d+ bytes from/.exec(l)?.[1])
        .filter((x): x is string => x !== undefined)
        .map(Number);
      const after = stamps.filter((t) => t > failedAt);
      if (after.length < 10)
        throw new Error(
          `${this.topology}: the flow ${src} -> ${dst} did not recover within ${afterMs} ms after ${failed} failed`,
        );
      let gap = 0;
      for (let i = 1; i < stamps.length; i++) gap = Math.max(gap, stamps[i] - stamps[i - 1]);
      return { gapMs: Math.round(gap * 1000), replies: stamps.length, failed };
    } finally {
      if (ping.exitCode === null) ping.kill("SIGKILL");
    }
  }

  stopDaemons(): void {
    const pids: number[] = [];
    for (const node of this.made) {
      pids.push(...nsPids(this.ns(node)));
      for (const p of nsPids(this.ns(node))) signal(p, "SIGTERM");
    }
    for (const node of this.made) {
      for (let i = 0; i < 30 && nsPids(this.ns(node)).length; i++) sleepSync(100);
      for (const p of nsPids(this.ns(node))) signal(p, "SIGKILL");
      for (let i = 0; i < 20 && nsPids(this.ns(node)).length; i++) sleepSync(50);
      this.exec(node, "nft", ["flush", "ruleset"]);
    }
    removeDaemonDirs(pids);
  }

  /** Kills every process in the lab's namespaces, deletes them and the run folder. Safe to call twice. */
  teardown(): void {
    for (const node of [...this.made]) {
      removeDaemonDirs(killNamespace(this.ns(node)));
      this.made.delete(node);
    }
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
