/**
 * `health`: the estate's front doors, checked in parallel, each with a timeout:
 *
 * - `vip`: HTTPS on the front tier's VIP (TLS verified against the system CAs plus `--ca`,
 *   for `--tls-name`, default the site's domain); any answer below 500 passes (the
 *   balancers answer; a 502/503/504 means nothing behind them does).
 * - `kubernetes`: `GET /readyz` on the API endpoint with the kubeconfig's CA and client
 *   credentials (200 passes); without a shown kubeconfig, a verified TLS handshake and any
 *   HTTP answer (401 included) pass, and the detail says so.
 * - `grafana`: `GET /api/health` (200 passes) at `--grafana`, else at the outputs'
 *   `monitoring.grafana.url` when the contract has one; otherwise reported as not checked.
 * - `rgw <endpoint>`: `GET /` on each S3 endpoint (any answer below 500 passes).
 *
 * Prints one table row per check; the exit status is 1 when any check failed.
 */
import * as http from "http";
import * as https from "https";
import * as tls from "tls";
import * as yaml from "js-yaml";
import type { StackOutputs } from "../contract";
import { placeholder } from "../read";

export interface HealthOptions {
  /** Milliseconds per check. @default 5000 */
  readonly timeoutMs?: number;
  /** Extra trusted CA certificates (PEM) for the VIP and Grafana. */
  readonly ca?: string;
  /** The name the VIP's certificate must carry. @default the site's domain */
  readonly tlsName?: string;
  /** Grafana's base URL, when the outputs do not carry one. */
  readonly grafanaUrl?: string;
}

export interface CheckResult {
  readonly check: string;
  readonly target: string;
  readonly status: "ok" | "FAIL" | "n/a";
  readonly detail: string;
  readonly ms: number;
}

interface Probe {
  readonly check: string;
  readonly target: string;
  readonly run: (signal: AbortSignal) => Promise<{ ok: boolean; detail: string }>;
}

interface Answer {
  readonly status: number;
  readonly authorized: boolean;
}

function request(url: URL, signal: AbortSignal, tlsOptions: https.RequestOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === "https:" ? https : http;
    const req = mod.request(url, { method: "GET", signal, agent: false, ...tlsOptions }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, authorized: true }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Kubeconfig credentials for the API check: CA, client certificate and key, or a token. */
interface KubeCreds {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
}

function kubeCreds(kubeconfig: string): KubeCreds | undefined {
  if (placeholder(kubeconfig)) return undefined;
  try {
    const doc = yaml.load(kubeconfig, { schema: yaml.JSON_SCHEMA }) as {
      clusters?: { cluster?: Record<string, string> }[];
      users?: { user?: Record<string, string> }[];
    };
    const cluster = doc.clusters?.[0]?.cluster ?? {};
    const user = doc.users?.[0]?.user ?? {};
    const b64 = (v: string | undefined) => (v ? Buffer.from(v, "base64") : undefined);
    return {
      ca: b64(cluster["certificate-authority-data"]),
      cert: b64(user["client-certificate-data"]),
      key: b64(user["client-key-data"]),
      token: user.token,
    };
  } catch {
    return undefined;
  }
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { name?: string };
  if (err.name === "AbortError") return "timed out";
  if (err.code && err.message && !err.message.includes(err.code)) return `${err.code}: ${err.message}`;
  return err.message || String(e);
}

/** The Grafana URL the contract carries, when the monitoring section has one. */
export function grafanaUrlOf(o: StackOutputs): string | undefined {
  const m = (o as unknown as { monitoring?: { grafana?: { url?: unknown } } }).monitoring;
  return typeof m?.grafana?.url === "string" ? m.grafana.url : undefined;
}

export function probes(o: StackOutputs, opts: HealthOptions = {}): Probe[] {
  const ca = opts.ca ? [...tls.rootCertificates, opts.ca] : undefined;
  const out: Probe[] = [];
  const vip = new URL(`https://${o.frontend.vip}:${o.frontend.ports.https}/`);
  const tlsName = opts.tlsName ?? o.site.domain;
  out.push({
    check: "vip",
    target: `${vip.origin} (${tlsName})`,
    run: async (signal) => {
      const a = await request(vip, signal, { ca, servername: tlsName, headers: { host: tlsName } });
      return { ok: a.status > 0 && a.status < 500, detail: `HTTP ${a.status}` };
    },
  });

  const api = new URL("/readyz", o.kubernetes.apiEndpoint.url);
  const creds = kubeCreds(o.kubeconfig);
  out.push({
    check: "kubernetes",
    target: `${api.href} (${o.kubernetes.apiEndpoint.name})`,
    run: async (signal) => {
      const a = await request(api, signal, {
        ca: creds?.ca ?? ca,
        cert: creds?.cert,
        key: creds?.key,
        servername: o.kubernetes.apiEndpoint.name,
        headers: creds?.token ? { authorization: `Bearer ${creds.token}` } : {},
      });
      if (creds) return { ok: a.status === 200, detail: `HTTP ${a.status}` };
      return {
        ok: a.status > 0 && a.status < 500,
        detail: `HTTP ${a.status} (no kubeconfig shown: TLS and an answer only)`,
      };
    },
  });

  const grafana = opts.grafanaUrl ?? grafanaUrlOf(o);
  if (grafana) {
    const url = new URL("/api/health", grafana);
    out.push({
      check: "grafana",
      target: url.href,
      run: async (signal) => {
        const a = await request(url, signal, { ca });
        return { ok: a.status === 200, detail: `HTTP ${a.status}` };
      },
    });
  }

  for (const endpoint of o.ceph.rgwEndpoints) {
    const url = new URL("/", endpoint);
    out.push({
      check: "rgw",
      target: url.href,
      run: async (signal) => {
        const a = await request(url, signal);
        return { ok: a.status > 0 && a.status < 500, detail: `HTTP ${a.status}` };
      },
    });
  }
  return out;
}

/** Runs every probe at once, each aborted after the timeout. */
export async function checkHealth(o: StackOutputs, opts: HealthOptions = {}): Promise<CheckResult[]> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const results = await Promise.all(
    probes(o, opts).map(async (p): Promise<CheckResult> => {
      const started = Date.now();
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const r = await p.run(signal);
        return {
          check: p.check,
          target: p.target,
          status: r.ok ? "ok" : "FAIL",
          detail: r.detail,
          ms: Date.now() - started,
        };
      } catch (e) {
        const detail = signal.aborted ? `timed out after ${timeoutMs} ms` : reason(e);
        return { check: p.check, target: p.target, status: "FAIL", detail, ms: Date.now() - started };
      }
    }),
  );
  if (!opts.grafanaUrl && !grafanaUrlOf(o))
    results.push({
      check: "grafana",
      target: "-",
      status: "n/a",
      detail: "no Grafana URL in the outputs; pass --grafana <url>",
      ms: 0,
    });
  return results;
}

/** A plain-text table, one row per check. */
export function healthTable(results: readonly CheckResult[]): string {
  const rows = [
    ["CHECK", "TARGET", "STATUS", "MS", "DETAIL"],
    ...results.map((r) => [r.check, r.target, r.status, String(r.ms), r.detail]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ")).join("\n");
}
