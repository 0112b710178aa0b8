/**
 * A live front tier in network namespaces, built from a plan: the balancers on a shared
 * front segment (a bridge in its own namespace), a client on that segment, and one
 * backend per planned upstream (a Kubernetes node's loopback on a second "fabric"
 * segment) standing in for the Istio ingress gateway: a tiny Nginx that answers with the
 * node's name and the X-Forwarded-* headers it got. Co-located balancers (dev) run their
 * backend in the balancer's own namespace, as on the real host.
 *
 * The balancers run the planned nginx.conf, keepalived.conf, Nginx check and VRRP filter.
 * Only these strings are substituted (paths a namespace needs for itself, and the test
 * certificate); everything else is byte for byte the plan (the test prints the list):
 *   /run/nginx.pid                          -> <node>/nginx.pid
 *   /var/log/nginx/                         -> <node>/log/
 *   /var/lib/nginx/                         -> <node>/tmp/
 *   /etc/nginx/tls/frontend.crt|.key        -> the plan-only test pair (tests/fixtures)
 *   /etc/keepalived/estate-nginx-check.sh   -> <node>/nginx-check.sh (the planned script)
 * keepalived gets its three pid files in <node>/ as flags. `net.ipv4.ip_nonlocal_bind=1`
 * is set in each balancer namespace, as the planned node baseline does on a balancer.
 * There is no systemd here: `supervisedRestart` does what the planned drop-in tells
 * systemd to do (its ExecStopPost, RestartSec and ExecStartPre lines, read from the plan).
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FRONTEND_PATHS, VRRP_FILTER_TABLE } from "../../components/frontend/render";
import type { PlanResult } from "../helpers/plan";
import { PROJECT_DIR } from "../helpers/plan";
import { selfSignedCertificate } from "./certs";
import { cleanupStale as cleanupStaleNamespaces, isAlive, killNamespace, run, sleep, sleepSync } from "./netns";

export { run, sleep };

/** Namespaces of this suite are named `<BASE><pid>-<node>`; a pid that no longer runs marks a stale run. */
const BASE = "efe";
const CERT = path.join(PROJECT_DIR, "tests", "fixtures", "plan-only-tls.crt");
const KEY = path.join(PROJECT_DIR, "tests", "fixtures", "plan-only-tls.key");
export const TLS_NAME = "estate-plan-placeholder";

/** Deletes namespaces left by earlier runs of this suite whose process is gone. */
export function cleanupStale(): void {
  cleanupStaleNamespaces(BASE);
}

export interface Balancer {
  readonly name: string;
  readonly address: string;
  readonly priority: number;
  readonly nic: string;
  readonly loopback: string;
  readonly ns: string;
  readonly dir: string;
}

export interface Upstream {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly ns: string;
  readonly dir: string;
}

interface FrontendOutput {
  vip: string;
  balancers: { name: string; address: string; priority: number }[];
  ports: { https: number; http: number };
}

function ipToInt(a: string): number {
  return a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}
function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

export class FrontendLab {
  readonly dir: string;
  readonly prefix: string;
  readonly sw: string;
  readonly client: string;
  readonly clientAddress: string;
  readonly vip: string;
  readonly prefixLength: number;
  readonly ports: { https: number; http: number };
  readonly balancers: Balancer[];
  readonly upstreams: Upstream[];
  /** What was substituted in the planned configs, for the test's report. */
  readonly substituted: [string, string][] = [];
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly load: ChildProcess[] = [];

  constructor(
    readonly stack: string,
    readonly plan: PlanResult,
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `estate-frontend-lab-${stack}-`));
    this.prefix = `${BASE}${process.pid}-${stack}`;
    this.sw = `${this.prefix}-sw`;
    this.client = `${this.prefix}-client`;
    const out = plan.outputs.frontend as FrontendOutput;
    const nodes = plan.outputs.nodes as { name: string; loopback: string }[];
    this.vip = out.vip;
    this.ports = out.ports;
    const first = out.balancers[0].name;
    const ka = plan.artifact(`frontend/${first}/keepalived.conf`);
    const vipLine = new RegExp(`^\\s*${out.vip.replace(/\./g, "\\.")}/(\\d+) dev (\\S+)`, "m").exec(ka);
    if (!vipLine) throw new Error(`no VIP line in frontend/${first}/keepalived.conf`);
    this.prefixLength = Number(vipLine[1]);
    const size = 2 ** (32 - this.prefixLength);
    const network = ipToInt(out.vip) - (ipToInt(out.vip) % size);
    this.clientAddress = intToIp(network + size - 2);
    this.balancers = out.balancers.map((b) => {
      const text = plan.artifact(`frontend/${b.name}/keepalived.conf`);
      const nic = /^\s*interface (\S+)/m.exec(text)?.[1];
      if (!nic) throw new Error(`no interface in frontend/${b.name}/keepalived.conf`);
      const loopback = nodes.find((n) => n.name === b.name)?.loopback;
      if (!loopback) throw new Error(`no loopback for ${b.name} in the nodes output`);
      return { ...b, nic, loopback, ns: `${this.prefix}-${b.name}`, dir: path.join(this.dir, b.name) };
    });
    // The HTTP upstreams (the ingress NodePorts), not the stream block's API servers.
    const nginx = plan.artifact(`frontend/${first}/nginx.conf`).split(/^stream \{/m)[0];
    this.upstreams = [...nginx.matchAll(/^\s*server (\d+\.\d+\.\d+\.\d+):(\d+) [^#\n]*# (\S+)$/gm)].map((m) => ({
      name: m[3],
      address: m[1],
      port: Number(m[2]),
      ns: `${this.prefix}-${m[3]}`,
      dir: path.join(this.dir, `backend-${m[3]}`),
    }));
    if (this.upstreams.length < 2) throw new Error(`${stack}: fewer than two upstreams in nginx.conf`);
  }

  exec(ns: string, script: string): string {
    return run("ip", ["netns", "exec", ns, "bash", "-c", `set -euo pipefail\n${script}`]);
  }

  private addNs(ns: string): void {
    if (this.namespaces.includes(ns)) return;
    run("ip", ["netns", "add", ns]);
    this.namespaces.push(ns);
    run("ip", ["-n", ns, "link", "set", "lo", "up"]);
  }

  private port = 0;
  /** The switch-side ports of each namespace's links. */
  private readonly bridgePorts = new Map<string, string[]>();

  /** A veth from `ns` (named `iface`) to a bridge of the switch namespace. */
  private attach(ns: string, iface: string, bridge: string): void {
    const peer = `p${this.port++}`;
    this.bridgePorts.set(ns, [...(this.bridgePorts.get(ns) ?? []), peer]);
    run("ip", ["link", "add", iface, "netns", ns, "type", "veth", "peer", "name", peer, "netns", this.sw]);
    run("ip", ["-n", this.sw, "link", "set", peer, "master", bridge, "up"]);
    run("ip", ["-n", ns, "link", "set", iface, "up"]);
  }

  /** Namespaces, links, addresses and routes. */
  build(): void {
    this.addNs(this.sw);
    for (const br of ["brf", "brk"]) {
      run("ip", ["-n", this.sw, "link", "add", br, "type", "bridge"]);
      run("ip", ["-n", this.sw, "link", "set", br, "up"]);
    }
    const attach = (ns: string, iface: string, bridge: string): void => this.attach(ns, iface, bridge);
    // Front segment: balancers and the client.
    for (const b of this.balancers) {
      this.addNs(b.ns);
      attach(b.ns, b.nic, "brf");
      run("ip", ["-n", b.ns, "addr", "add", `${b.address}/${this.prefixLength}`, "dev", b.nic]);
      this.exec(b.ns, "sysctl -qw net.ipv4.ip_nonlocal_bind=1");
    }
    this.addNs(this.client);
    attach(this.client, "eth0", "brf");
    run("ip", ["-n", this.client, "addr", "add", `${this.clientAddress}/${this.prefixLength}`, "dev", "eth0"]);
    // Fabric segment: every balancer and upstream host by its loopback, /32 routes on the link.
    const fabricHosts = new Map<string, { ns: string; address: string }>();
    for (const b of this.balancers) fabricHosts.set(b.name, { ns: b.ns, address: b.loopback });
    for (const u of this.upstreams) {
      const bal = this.balancers.find((b) => b.name === u.name);
      if (bal && bal.loopback !== u.address) throw new Error(`${u.name}: upstream ${u.address} is not its loopback`);
      if (!bal) fabricHosts.set(u.name, { ns: u.ns, address: u.address });
    }
    for (const [, h] of fabricHosts) {
      this.addNs(h.ns);
      attach(h.ns, "fab0", "brk");
      run("ip", ["-n", h.ns, "addr", "add", `${h.address}/32`, "dev", "fab0"]);
    }
    for (const [, h] of fabricHosts)
      for (const [, o] of fabricHosts)
        if (o !== h) run("ip", ["-n", h.ns, "route", "add", `${o.address}/32`, "dev", "fab0", "src", h.address]);
  }

  /** The namespace an upstream's backend runs in (a co-located balancer's own). */
  upstreamNs(u: Upstream): string {
    return this.balancers.find((b) => b.name === u.name)?.ns ?? u.ns;
  }

  startBackend(u: Upstream): void {
    fs.mkdirSync(path.join(u.dir, "tmp"), { recursive: true });
    const conf = `worker_processes 1;
pid ${u.dir}/nginx.pid;
error_log ${u.dir}/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${u.dir}/tmp/body;
    proxy_temp_path ${u.dir}/tmp/proxy;
    fastcgi_temp_path ${u.dir}/tmp/fastcgi;
    uwsgi_temp_path ${u.dir}/tmp/uwsgi;
    scgi_temp_path ${u.dir}/tmp/scgi;
    server {
        listen ${u.address}:${u.port};
        default_type text/plain;
        return 200 "${u.name} xff=$http_x_forwarded_for proto=$http_x_forwarded_proto\\n";
    }
}
`;
    fs.writeFileSync(path.join(u.dir, "nginx.conf"), conf);
    this.exec(this.upstreamNs(u), `nginx -p ${u.dir}/ -e ${u.dir}/error.log -c ${u.dir}/nginx.conf`);
  }

  stopBackend(u: Upstream): void {
    this.stopByPidFile(path.join(u.dir, "nginx.pid"));
  }

  stopByPidFile(file: string, signal: NodeJS.Signals = "SIGTERM"): void {
    if (!fs.existsSync(file)) return;
    const pid = Number(fs.readFileSync(file, "utf8").trim());
    if (!pid || !isAlive(pid)) return;
    process.kill(pid, signal);
    for (let i = 0; i < 100 && isAlive(pid); i++) sleepSync(20);
    if (isAlive(pid)) throw new Error(`pid ${pid} (${file}) did not exit on ${signal}`);
  }

  private substitute(text: string, pairs: [string, string][]): string {
    let out = text;
    for (const [from, to] of pairs) {
      if (!out.includes(from)) throw new Error(`planned config has no ${from} to substitute`);
      out = out.split(from).join(to);
      if (!this.substituted.some(([f]) => f === from)) this.substituted.push([from, to.replace(this.dir, "<run>")]);
    }
    return out;
  }

  /**
   * Writes the planned files with the allowed substitutions; `keepalivedPaths` are more
   * (planned path, lab path) pairs for keepalived.conf (the monitoring lab's notify script).
   */
  prepareBalancer(b: Balancer, keepalivedPaths: readonly [string, string][] = []): void {
    for (const d of ["log", "tmp"]) fs.mkdirSync(path.join(b.dir, d), { recursive: true });
    run("chown", ["-R", "www-data", path.join(b.dir, "tmp")]);
    fs.writeFileSync(
      path.join(b.dir, "nginx.conf"),
      this.nginxConfOf(b, this.plan.artifact(`frontend/${b.name}/nginx.conf`)),
    );
    const ka = this.substitute(this.plan.artifact(`frontend/${b.name}/keepalived.conf`), [
      [FRONTEND_PATHS.nginxCheck, `${b.dir}/nginx-check.sh`],
      ...keepalivedPaths,
    ]);
    fs.writeFileSync(path.join(b.dir, "keepalived.conf"), ka);
    fs.writeFileSync(path.join(b.dir, "nginx-check.sh"), this.plan.artifact(`frontend/${b.name}/nginx-check.sh`), {
      mode: 0o755,
    });
    fs.writeFileSync(path.join(b.dir, "vrrp-filter.nft"), this.plan.artifact(`frontend/${b.name}/vrrp-filter.nft`));
  }

  /** A planned nginx.conf with the namespace's paths and `cert`/`key` (default: the fixture pair). */
  nginxConfOf(b: Balancer, planned: string, cert: string = CERT, key: string = KEY): string {
    return this.substitute(planned, [
      [FRONTEND_PATHS.nginxPid, `${b.dir}/nginx.pid`],
      [FRONTEND_PATHS.nginxLogDir, `${b.dir}/log/`],
      [FRONTEND_PATHS.nginxTempDir, `${b.dir}/tmp/`],
      [FRONTEND_PATHS.tlsCertificate, cert],
      [FRONTEND_PATHS.tlsKey, key],
    ]);
  }

  /** Writes a new nginx.conf for `b`, checks it and reloads Nginx as Debian's unit does (`nginx -s reload`). */
  reloadNginx(b: Balancer, conf: string): void {
    fs.writeFileSync(path.join(b.dir, "nginx.conf"), conf);
    this.nginxCheck(b);
    this.exec(b.ns, `nginx -p ${b.dir}/ -e ${b.dir}/log/error.log -c ${b.dir}/nginx.conf -s reload`);
  }

  /**
   * A second self-signed certificate for the lab's TLS name (a certificate rotation), and a
   * CA bundle that trusts both it and the fixture, for clients during the roll.
   */
  newCertificate(): { cert: string; key: string; bundle: string } {
    const { cert, key } = selfSignedCertificate(this.dir, "rotated", TLS_NAME);
    const bundle = path.join(this.dir, "bundle.crt");
    fs.writeFileSync(bundle, fs.readFileSync(CERT, "utf8") + fs.readFileSync(cert, "utf8"));
    return { cert, key, bundle };
  }

  /** The SHA-256 fingerprint of the certificate the VIP serves now. */
  servedFingerprint(): string {
    const out = run("ip", [
      "netns",
      "exec",
      this.client,
      "sh",
      "-c",
      `openssl s_client -connect ${this.vip}:${this.ports.https} -servername ${TLS_NAME} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`,
    ]);
    return out.trim().split("=")[1];
  }

  fingerprintOf(certFile: string): string {
    return run("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", certFile]).trim().split("=")[1];
  }

  /** Loads the planned VRRP filter in `b`'s namespace (`nft -f`); returns the table as nft lists it. */
  loadFilter(b: Balancer): string {
    this.exec(b.ns, `nft -f ${b.dir}/vrrp-filter.nft`);
    return this.listFilter(b);
  }

  listFilter(b: Balancer): string {
    return this.exec(b.ns, `nft list table inet ${VRRP_FILTER_TABLE}`);
  }

  /** VRRP packets the filter dropped on `b` so far. */
  filterDrops(b: Balancer): number {
    const m = /meta l4proto (?:112|vrrp) counter packets (\d+) bytes \d+ drop/.exec(this.listFilter(b));
    if (!m) throw new Error(`no drop counter in the VRRP filter of ${b.name}`);
    return Number(m[1]);
  }

  unloadFilter(b: Balancer): void {
    spawnSync("ip", ["netns", "exec", b.ns, "nft", "delete", "table", "inet", VRRP_FILTER_TABLE], { stdio: "ignore" });
  }

  /** What the planned systemd drop-in tells systemd to do when keepalived stops and starts. */
  dropIn(b: Balancer): { stopPost: string[]; startPre: string[]; restartSec: number; restart: string } {
    const text = this.plan.artifact(`frontend/${b.name}/keepalived.service.d/estate.conf`);
    const all = (k: string): string[] => [...text.matchAll(new RegExp(`^${k}=(.*)$`, "gm"))].map((m) => m[1]);
    const restartSec = /^RestartSec=(\d+(?:\.\d+)?)s?$/m.exec(text)?.[1];
    const restart = /^Restart=(\S+)$/m.exec(text)?.[1];
    if (!restartSec || !restart) throw new Error(`no Restart/RestartSec in ${b.name}'s keepalived drop-in`);
    return { stopPost: all("ExecStopPost"), startPre: all("ExecStartPre"), restartSec: Number(restartSec), restart };
  }

  /** Runs drop-in command lines in `b`'s namespace; a leading `-` lets one fail, as in systemd. */
  private runUnitLines(b: Balancer, lines: readonly string[]): void {
    for (const line of lines) {
      const ignore = line.startsWith("-");
      const r = spawnSync("ip", ["netns", "exec", b.ns, "sh", "-c", ignore ? line.slice(1) : line], {
        encoding: "utf8",
      });
      if (r.status !== 0 && !ignore) throw new Error(`${b.name}: ${line}: ${r.stderr}`);
    }
  }

  /** Kills every keepalived process of `b` with SIGKILL (a crash: nothing of keepalived runs after it). */
  killKeepalived(b: Balancer): void {
    const pids = ["keepalived.pid", "vrrp.pid", "checkers.pid"]
      .map((f) => path.join(b.dir, f))
      .filter((f) => fs.existsSync(f))
      .map((f) => Number(fs.readFileSync(f, "utf8").trim()))
      .filter((pid) => pid > 0 && isAlive(pid));
    // Stopped first: killed one by one, the VRRP child would get SIGTERM from its dying
    // parent (PDEATHSIG) and remove the VIP gracefully, which a crash does not.
    for (const pid of pids) process.kill(pid, "SIGSTOP");
    for (const pid of pids) process.kill(pid, "SIGKILL");
    for (let i = 0; i < 100 && pids.some(isAlive); i++) sleepSync(20);
    if (pids.some(isAlive)) throw new Error(`keepalived of ${b.name} survived SIGKILL`);
  }

  /**
   * What systemd does with the planned drop-in when keepalived died: ExecStopPost at once,
   * RestartSec later ExecStartPre, then keepalived again (Restart=always).
   */
  async supervisedRestart(b: Balancer): Promise<void> {
    const unit = this.dropIn(b);
    if (unit.restart !== "always") throw new Error(`${b.name}: the drop-in does not restart keepalived always`);
    this.runUnitLines(b, unit.stopPost);
    await sleep(unit.restartSec * 1000);
    this.runUnitLines(b, unit.startPre);
    // systemd has reaped the killed processes by now; here they may linger as zombies that
    // keepalived's pid-file check mistakes for a running daemon: their pid files go.
    for (const f of ["keepalived.pid", "vrrp.pid", "checkers.pid"]) fs.rmSync(path.join(b.dir, f), { force: true });
    this.startKeepalived(b);
  }

  /** Keeps every core busy (plain busy loops in the host namespace) until `stopLoad`. */
  startLoad(): void {
    this.stopLoad();
    for (let i = 0; i < os.cpus().length; i++) {
      const child = spawn("sh", ["-c", "while :; do :; done"], { stdio: "ignore" });
      this.load.push(child);
      this.children.push(child);
    }
  }

  stopLoad(): void {
    for (const c of this.load) if (c.exitCode === null) c.kill("SIGKILL");
    this.load.length = 0;
  }

  /** VRRP state changes `b`'s keepalived logged so far. */
  transitions(b: Balancer): string[] {
    return this.keepalivedLog(b)
      .split("\n")
      .filter((l) => /Entering (MASTER|BACKUP|FAULT) STATE/.test(l));
  }

  /**
   * A foreign VRRP speaker on the front segment: a third keepalived (VRRPv3, the tier's
   * VRID and VIP, priority 254, the same advert interval) sending unicast adverts to every
   * balancer. (With another VIP, keepalived itself would discard its adverts.) It adds the
   * VIP on its own NIC: no filter on the balancers stops a host on the segment from claiming
   * an address; what the filter stops is the balancers giving the VIP up.
   */
  startForeign(): { address: string } {
    const ns = `${this.prefix}-foreign`;
    const dir = path.join(this.dir, "foreign");
    fs.mkdirSync(dir, { recursive: true });
    const size = 2 ** (32 - this.prefixLength);
    const network = ipToInt(this.vip) - (ipToInt(this.vip) % size);
    const address = intToIp(network + size - 3);
    if (!this.namespaces.includes(ns)) {
      this.addNs(ns);
      this.attach(ns, "eth0", "brf");
      run("ip", ["-n", ns, "addr", "add", `${address}/${this.prefixLength}`, "dev", "eth0"]);
    }
    const planned = this.plan.artifact(`frontend/${this.balancers[0].name}/keepalived.conf`);
    const vrid = /^\s*virtual_router_id (\d+)$/m.exec(planned)?.[1];
    const advert = /^\s*advert_int (\S+)$/m.exec(planned)?.[1];
    if (!vrid || !advert) throw new Error("no virtual_router_id/advert_int in the planned keepalived.conf");
    fs.writeFileSync(
      path.join(dir, "keepalived.conf"),
      `global_defs {
    router_id foreign
    vrrp_version 3
}
vrrp_instance foreign {
    state MASTER
    interface eth0
    virtual_router_id ${vrid}
    priority 254
    advert_int ${advert}
    unicast_src_ip ${address}
    unicast_peer {
${this.balancers.map((b) => `        ${b.address}`).join("\n")}
    }
    virtual_ipaddress {
        ${this.vip}/${this.prefixLength} dev eth0
    }
}
`,
    );
    this.exec(
      ns,
      `keepalived -n -l -D -P -f ${dir}/keepalived.conf -p ${dir}/keepalived.pid -r ${dir}/vrrp.pid -c ${dir}/checkers.pid ` +
        `>>${dir}/keepalived.log 2>&1 </dev/null &`,
    );
    return { address };
  }

  foreignIsMaster(): boolean {
    const f = path.join(this.dir, "foreign", "keepalived.log");
    return fs.existsSync(f) && /Entering MASTER STATE/.test(fs.readFileSync(f, "utf8"));
  }

  stopForeign(): void {
    this.stopByPidFile(path.join(this.dir, "foreign", "keepalived.pid"));
  }

  nginxCheck(b: Balancer): void {
    this.exec(b.ns, `nginx -t -q -p ${b.dir}/ -e stderr -c ${b.dir}/nginx.conf`);
  }

  keepalivedCheck(b: Balancer): void {
    this.exec(b.ns, `keepalived -t -f ${b.dir}/keepalived.conf`);
  }

  startNginx(b: Balancer): void {
    this.exec(b.ns, `nginx -p ${b.dir}/ -e ${b.dir}/log/error.log -c ${b.dir}/nginx.conf`);
  }

  stopNginx(b: Balancer): void {
    this.stopByPidFile(path.join(b.dir, "nginx.pid"));
  }

  nginxRunning(b: Balancer): boolean {
    const f = path.join(b.dir, "nginx.pid");
    return fs.existsSync(f) && isAlive(Number(fs.readFileSync(f, "utf8").trim()));
  }

  startKeepalived(b: Balancer): void {
    const d = b.dir;
    this.exec(
      b.ns,
      `keepalived -n -l -D -P -f ${d}/keepalived.conf -p ${d}/keepalived.pid -r ${d}/vrrp.pid -c ${d}/checkers.pid ` +
        // Each line stamped with the epoch in microseconds (keepalived's own stamp has seconds).
        `</dev/null 2>&1 | while IFS= read -r line; do echo "$EPOCHREALTIME $line"; done >>${d}/keepalived.log 2>&1 &`,
    );
  }

  /** The last VRRP transitions of every balancer, with times: for assertion messages. */
  diagnose(): string {
    return this.balancers
      .map(
        (b) =>
          `${b.name}:\n${this.transitions(b)
            .slice(-4)
            .map((l) => `  ${l.slice(0, 120)}`)
            .join("\n")}`,
      )
      .join("\n");
  }

  keepalivedRunning(b: Balancer): boolean {
    const f = path.join(b.dir, "keepalived.pid");
    return fs.existsSync(f) && isAlive(Number(fs.readFileSync(f, "utf8").trim()));
  }

  stopKeepalived(b: Balancer): void {
    this.stopKeepaliveds([b]);
  }

  /** Stops keepalived gracefully (SIGTERM) on several balancers at once, and waits for all. */
  stopKeepaliveds(bs: readonly Balancer[]): void {
    const pids = bs
      .map((b) => path.join(b.dir, "keepalived.pid"))
      .filter((f) => fs.existsSync(f))
      .map((f) => Number(fs.readFileSync(f, "utf8").trim()))
      .filter((pid) => pid > 0 && isAlive(pid));
    for (const pid of pids) process.kill(pid, "SIGTERM");
    for (let i = 0; i < 150 && pids.some(isAlive); i++) sleepSync(20);
    if (pids.some(isAlive)) throw new Error(`keepalived ${pids.filter(isAlive).join(", ")} did not exit on SIGTERM`);
  }

  keepalivedLog(b: Balancer): string {
    const f = path.join(b.dir, "keepalived.log");
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
  }

  holdsVip(b: Balancer): boolean {
    return run("ip", ["-n", b.ns, "-4", "-o", "addr", "show", "dev", b.nic]).includes(` ${this.vip}/`);
  }

  /** The balancers that hold the VIP now (`ip addr` in each namespace). */
  vipHolders(): Balancer[] {
    return this.balancers.filter((b) => this.holdsVip(b));
  }

  /** The balancer that holds the VIP, waiting up to `ms`. */
  async waitForMaster(ms: number, among: readonly Balancer[] = this.balancers): Promise<Balancer> {
    const end = Date.now() + ms;
    for (;;) {
      const m = among.find((b) => this.holdsVip(b));
      if (m) return m;
      if (Date.now() > end) throw new Error(`no balancer took the VIP ${this.vip} within ${ms} ms`);
      await sleep(50);
    }
  }

  /**
   * A silent failure of `b`: its links stay up, and the switch drops every frame to or from
   * them (a bridge-family nft table in the switch namespace, priority -500). Dropping in the
   * switch, not in `b`, also stops what `b` sends through packet sockets (keepalived's
   * gratuitous ARP), and `b` itself runs on (its Nginx check still passes), as in a real
   * partition.
   */
  blackhole(b: Balancer, on: boolean): void {
    const table = `lab_blackhole_${this.balancers.indexOf(b)}`;
    if (on) {
      const ports = this.bridgePorts.get(b.ns) ?? [];
      if (!ports.length) throw new Error(`${b.name} has no switch ports`);
      const set = `{ ${ports.join(", ")} }`;
      run(
        "ip",
        ["netns", "exec", this.sw, "nft", "-f", "-"],
        `table bridge ${table} {
  chain forward { type filter hook forward priority -500; policy accept; iifname ${set} drop; oifname ${set} drop; }
}
`,
      );
    } else spawnSync("ip", ["netns", "exec", this.sw, "nft", "delete", "table", "bridge", table], { stdio: "ignore" });
  }

  httpsUrl(p = "/"): string {
    return `https://${TLS_NAME}${this.ports.https === 443 ? "" : `:${this.ports.https}`}${p}`;
  }

  curlTls(): string[] {
    return ["--cacert", CERT, "--resolve", `${TLS_NAME}:${this.ports.https}:${this.vip}`];
  }

  /** From the client: `curl` with `args`; returns stdout. */
  curl(args: readonly string[]): string {
    return run("ip", ["netns", "exec", this.client, "curl", "-sS", "-m", "3", ...args]);
  }

  /**
   * Starts a probe loop in the client namespace: one HTTPS request through the VIP every
   * ~10 ms (`timeout` s each, a new connection each), one line per request:
   * `<epoch s> <http code> <backend> curl=<exit code>` (curl's messages in `<file>.err`).
   *
   * `retryUnprocessed`: a request whose connection the server closed before any response
   * (HTTP/2 GOAWAY for a stream it did not process: curl 16; a connection closed or reset
   * before the response: 52, 56) is sent once more on a new connection, as browsers do
   * for a request the server never processed; each such close is logged to `<file>.closed`.
   * A refused connection (7) or a timeout (28) is never retried.
   */
  startProbe(file: string, timeout = 0.25, cacert = CERT, retryUnprocessed = false): ChildProcess {
    const tls = ["--cacert", cacert, ...this.curlTls().slice(2)].join(" ");
    const request = `out=$(curl -sS -m ${timeout} ${tls} -w ' %{http_code}' ${this.httpsUrl()} 2>>${file}.err) || rc=$?`;
    const script = `export LC_ALL=C
end=$((SECONDS+40))
: >${file}.closed
while (( SECONDS < end )); do
  rc=0
  ${request}
  if ${retryUnprocessed ? "true" : "false"} && [[ $rc == 16 || $rc == 52 || $rc == 56 ]]; then
    echo "$EPOCHREALTIME curl=$rc" >>${file}.closed
    rc=0
    ${request}
  fi
  echo "$EPOCHREALTIME \${out##* } \${out%% *} curl=$rc"
  sleep 0.01
done >${file}
`;
    // At nice -10: the busy loops load the tier, not the measuring client (a real client is
    // another machine).
    const child = spawn("ip", ["netns", "exec", this.client, "nice", "-n", "-10", "bash", "-c", script], {
      stdio: "ignore",
    });
    this.children.push(child);
    return child;
  }

  /** Requests `startProbe(..., retryUnprocessed)` sent again because the server closed them unprocessed. */
  closedUnprocessed(file: string): string[] {
    const f = `${file}.closed`;
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").filter(Boolean) : [];
  }

  /** The lines an access log has now (to see which balancer served). */
  accessLines(b: Balancer): number {
    const f = path.join(b.dir, "log", "access.log");
    return fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").filter(Boolean).length : 0;
  }

  teardown(): void {
    for (const c of this.children) if (c.exitCode === null) c.kill("SIGKILL");
    for (const ns of [...this.namespaces].reverse()) killNamespace(ns);
    this.namespaces.length = 0;
    // FRONTEND_LAB_KEEP=1 keeps the run's files (logs, probe lines) for a post-mortem.
    if (process.env.FRONTEND_LAB_KEEP) console.log(`      kept ${this.dir}`);
    else fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ProbeResult {
  readonly failoverMs: number;
  readonly failed: number;
  readonly okAfter: number;
  readonly backends: ReadonlySet<string>;
  /** `<epoch s> curl=<exit code>` of each failed request after `t0`. */
  readonly failures: readonly string[];
}

/**
 * Outage as the largest gap between successful replies from `t0` on (lab notes: not lost
 * requests x interval), and the requests that failed after `t0`.
 */
export function analyzeProbe(file: string, t0: number): ProbeResult {
  const lines = fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" "))
    .map(([t, code, backend, rc]) => ({ t: Number(t), ok: code === "200", backend: backend ?? "", rc: rc ?? "" }));
  const lastBefore = [...lines].reverse().find((l) => l.ok && l.t <= t0);
  let prev = lastBefore?.t ?? t0;
  let gap = 0;
  let failed = 0;
  const failures: string[] = [];
  let okAfter = 0;
  const backends = new Set<string>();
  for (const l of lines) {
    if (l.t <= t0) continue;
    if (!l.ok) {
      failed++;
      failures.push(`${l.t.toFixed(3)} ${l.rc}`);
      continue;
    }
    okAfter++;
    backends.add(l.backend);
    gap = Math.max(gap, l.t - prev);
    prev = l.t;
  }
  return { failoverMs: Math.round(gap * 1000), failed, okAfter, backends, failures };
}
