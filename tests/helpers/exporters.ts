/**
 * Running the Debian exporters the way the planned systemd drop-ins run them: the words of
 * the drop-in's `ExecStart=` (systemd splits on blanks; the renderer admits no quoting), with
 * only the listen address substituted (this machine has no fabric loopback). Used by the
 * node, fabric and front-tier render tests.
 */
import { spawn, spawnSync, type ChildProcess } from "child_process";
import * as net from "net";

/** The last `ExecStart=` of a drop-in (the first one, empty, resets the package's). */
export function execStartOf(dropIn: string): string[] {
  const lines = [...dropIn.matchAll(/^ExecStart=(.*)$/gm)].map((m) => m[1]);
  const last = lines[lines.length - 1];
  if (!last) throw new Error(`no ExecStart= in:\n${dropIn}`);
  return last.split(/\s+/).filter(Boolean);
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * `argv` with the value of the flag named `listenFlag` replaced by `127.0.0.1:<port>`;
 * returns the new argv and the substitution made, for the test to print.
 */
export function listenOn(argv: readonly string[], listenFlag: string, port: number): { argv: string[]; was: string } {
  let was = "";
  const out = argv.map((w) => {
    if (!w.startsWith(`${listenFlag}=`)) return w;
    was = w;
    return `${listenFlag}=127.0.0.1:${port}`;
  });
  if (!was) throw new Error(`no ${listenFlag}= among ${argv.join(" ")}`);
  return { argv: out, was };
}

export interface Running {
  readonly child: ChildProcess;
  log(): string;
  stop(): void;
}

export function start(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Running {
  const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env });
  let log = "";
  child.stdout?.on("data", (d) => (log += String(d)));
  child.stderr?.on("data", (d) => (log += String(d)));
  return {
    child,
    log: () => log,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    },
  };
}

/** GETs `url` until it answers 200 (up to `ms`), and returns the body. */
export async function scrape(url: string, ms = 10000, proc?: Running): Promise<string> {
  const end = Date.now() + ms;
  let last = "";
  for (;;) {
    if (proc && proc.child.exitCode !== null)
      throw new Error(`exporter exited with ${proc.child.exitCode} before ${url} answered:\n${proc.log()}`);
    try {
      const r = await fetch(url);
      if (r.ok) return await r.text();
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > end) throw new Error(`${url}: ${last}${proc ? `\n${proc.log()}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Metric names (no labels) of a Prometheus text exposition. */
export function metricNames(text: string): Set<string> {
  return new Set(
    text
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)?.[0] ?? ""),
  );
}

/** `promtool check metrics` on `text` (stdin): returns its status and output. */
export function promtoolCheckMetrics(text: string): { status: number | null; output: string } {
  const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
