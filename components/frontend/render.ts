/**
 * Pure renderers of the front tier: nginx.conf, keepalived.conf, the Nginx check that
 * keepalived runs, the VRRP filter (nftables), keepalived's systemd drop-in, and the host
 * scripts. No Pulumi, no config reading (`input.ts` derives the input from the model).
 *
 * Design (see README, "Front tier"):
 * - Nginx terminates TLS on the VIP and proxies plain HTTP to the Istio ingress gateway's
 *   HTTP NodePort on every Kubernetes node, setting X-Forwarded-For/-Proto. Terminating here
 *   is what the rest of the tier needs anyway: port 80 must answer with a redirect (L7), the
 *   certificate comes from the estate's secret config, upstream keepalive and per-request
 *   retries (`proxy_next_upstream`) only exist in the http module, and access logs show
 *   real requests. PROXY protocol on an L4 pass-through would have kept TLS end to end but
 *   needs a PROXY listener on the gateway and gives neither retries nor request logs. The
 *   gateway must trust one proxy hop (`numTrustedProxies: 1`); the hop runs on the routed
 *   fabric inside the estate. Changes reload Nginx (graceful: old workers finish their
 *   requests), never restart it.
 * - keepalived: one VRRPv3 instance for the VIP with sub-second adverts (`ADVERT_INT`): a
 *   silently dead master is replaced after 3 adverts plus skew (~0.35 s). The VRRP process
 *   runs at nice -20 and never swaps, so a busy host still sends and reads adverts on time.
 *   Not real-time priority: under SCHED_RR the kernel kills a VRRP process that works 10 ms
 *   without blocking (RLIMIT_RTTIME), and keepalived's child then dies with the VIP still on
 *   the NIC (seen in the lab under load).
 * - Ownership is deterministic: the highest-priority balancer whose Nginx passes its check
 *   holds the VIP, after a start, after a partition heals, and `PREEMPT_DELAY` after a
 *   recovered balancer's check passes again (preemption). The price is a second, planned
 *   handover when the higher balancer returns; it is near-lossless (the old master steps
 *   down on the first higher advert and the new one sends gratuitous ARP at once), and
 *   `init_fail` + `PREEMPT_DELAY` keep a balancer that is not serving yet from taking it.
 * - Clients follow the VIP: gratuitous ARP on every transition, again when a master hears a
 *   lower-priority master (the end of a partition; `higher_prio_send_advert` makes the loser
 *   announce itself before stepping down, so the winner always hears it), and every second
 *   while master (`garp_master_refresh`) as a backstop.
 * - The Nginx check: keepalived runs scripts at most once a second, so the check samples
 *   Nginx's local status page every 0.2 s within each run. A refused connection (Nginx not
 *   running) fails at once; a slow answer fails only twice in a row (a loaded host must not
 *   flap). A failing check puts the instance in FAULT, which releases the VIP.
 * - VRRPv3 has no authentication: the segment is protected instead. Every balancer's
 *   nftables accepts VRRP (IP protocol 112) only from the other balancers' front-tier
 *   addresses, on the front NIC, with TTL 255 (never routed), and drops (and counts) all other
 *   VRRP, so a foreign or misconfigured VRRP speaker cannot take the VIP.
 * - No stale VIP: systemd restarts keepalived whenever it dies, and removes the VIP after
 *   every stop and before every start (a killed keepalived cannot remove it itself); a
 *   starting keepalived is BACKUP and adds the VIP only as master.
 */

/** Where the front tier's files live on a balancer. The lab test substitutes some of these. */
import { renderApiStream } from "../kubernetes/render";
import { EXPORTERS, TEXTFILE_DIR, TEXTFILE_METRICS, VRRP_STATES } from "../monitoring/conventions";
import {
  aptInstallMissing,
  type ExporterService,
  exporterDropInShell,
  exporterStartShell,
  ipv4Literal,
} from "../node/render";
import { bashArray, FILE_FUNCTIONS, intLiteral, shq } from "../shared/shell";

/** Where Debian's libnginx-mod-stream puts the stream module (the balancers' package). */
export const NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

export const FRONTEND_PATHS = {
  nginxConf: "/etc/nginx/nginx.conf",
  nginxPid: "/run/nginx.pid",
  nginxLogDir: "/var/log/nginx/",
  nginxTempDir: "/var/lib/nginx/",
  tlsDir: "/etc/nginx/tls/",
  tlsCertificate: "/etc/nginx/tls/frontend.crt",
  tlsKey: "/etc/nginx/tls/frontend.key",
  keepalivedConf: "/etc/keepalived/keepalived.conf",
  /** The Nginx check keepalived runs (root-owned, not writable by others: `enable_script_security`). */
  nginxCheck: "/etc/keepalived/estate-nginx-check.sh",
  /** keepalived's notify script: VRRP state into the node exporter's textfile collector (root-owned, 0755). */
  vrrpNotify: "/etc/keepalived/estate-vrrp-notify.sh",
  /** The VRRP filter, loaded by nftables.service at boot through `/etc/nftables.conf`. */
  nftDir: "/etc/nftables.d/",
  vrrpFilter: "/etc/nftables.d/estate-frontend.nft",
  nftablesConf: "/etc/nftables.conf",
  keepalivedDropIn: "/etc/systemd/system/keepalived.service.d/estate.conf",
} as const;

/** The local-only port of Nginx's `stub_status` (monitoring and the VRRP check). */
export const STATUS_PORT = 8081;
export const STATUS_PATH = "/nginx_status";

/**
 * VRRP timers. Advert every 0.1 s: master down after 3 adverts + skew = 0.34-0.35 s for
 * priorities 150-140. Measured under a busy loop on every core with the VRRP process at
 * nice -20: no spurious transition (tests/lab).
 */
export const ADVERT_INT = 0.1;
/** Seconds a recovered higher-priority balancer waits before taking the VIP back. */
export const PREEMPT_DELAY = 1;
/** Nice value of keepalived's VRRP process (the highest priority short of real time). */
export const VRRP_NICE = -20;
/** Seconds systemd waits before restarting a keepalived that died. */
export const KEEPALIVED_RESTART_SEC = 1;
/** The nftables table of the VRRP filter. */
export const VRRP_FILTER_TABLE = "estate_frontend";

export interface FrontendBalancer {
  readonly name: string;
  /** The balancer's own address on the front-tier segment. */
  readonly address: string;
  readonly nic: string;
  readonly priority: number;
  /** The balancer's fabric loopback /32: where its exporters listen. */
  readonly loopback: string;
}

export interface FrontendUpstream {
  /** The Kubernetes node's name (a comment in the config). */
  readonly name: string;
  /** The node's loopback, reachable over the fabric. */
  readonly address: string;
}

export interface FrontTierInput {
  readonly vip: string;
  /** Prefix length of the front-tier segment (`pools.frontend`). */
  readonly prefixLength: number;
  readonly vrid: number;
  readonly ports: { readonly https: number; readonly http: number };
  /** Sorted by name; priorities descending. */
  readonly balancers: readonly FrontendBalancer[];
  /** Every Kubernetes node, sorted by name. */
  readonly upstreams: readonly FrontendUpstream[];
  /** The Istio ingress gateway's HTTP NodePort. */
  readonly upstreamPort: number;
  /**
   * The Kubernetes API endpoint on the VIP: TCP passed through to the K3s servers (see
   * `renderApiStream`). Absent when the estate has no K3s server.
   */
  readonly apiEndpoint?: {
    readonly vip: string;
    readonly servers: readonly { readonly name: string; readonly address: string }[];
  };
}

function balancerOf(input: FrontTierInput, name: string): FrontendBalancer {
  const b = input.balancers.find((x) => x.name === name);
  if (!b)
    throw new Error(`${name} is not a balancer of the front tier (${input.balancers.map((x) => x.name).join(", ")})`);
  return b;
}

export function renderNginxConf(input: FrontTierInput, balancer: string): string {
  const self = balancerOf(input, balancer);
  const P = FRONTEND_PATHS;
  const httpsSuffix = input.ports.https === 443 ? "" : `:${input.ports.https}`;
  const upstreams = input.upstreams.map(
    (u) => `        server ${u.address}:${input.upstreamPort} max_fails=2 fail_timeout=10s; # ${u.name}`,
  );
  return `# estate front tier: Nginx on ${balancer}. Managed by estate; local edits are overwritten.
# TLS terminates here; plain HTTP to the Istio ingress gateway with X-Forwarded-* (the
# gateway trusts one proxy hop). Every path is explicit so the file runs anywhere as is.
user www-data;
worker_processes auto;
worker_rlimit_nofile 65536;
pid ${P.nginxPid};
error_log ${P.nginxLogDir}error.log warn;
${input.apiEndpoint ? `# The stream module (Debian: libnginx-mod-stream) for the Kubernetes API endpoint.\nload_module ${NGINX_STREAM_MODULE};\n` : ""}
events {
    worker_connections 8192;
}

http {
    server_tokens off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nodelay on;

    client_body_temp_path ${P.nginxTempDir}body;
    proxy_temp_path ${P.nginxTempDir}proxy;
    fastcgi_temp_path ${P.nginxTempDir}fastcgi;
    uwsgi_temp_path ${P.nginxTempDir}uwsgi;
    scgi_temp_path ${P.nginxTempDir}scgi;

    log_format estate '$remote_addr [$time_iso8601] "$request" $status $body_bytes_sent '
                      'rt=$request_time upstream=$upstream_addr us=$upstream_status '
                      'ut=$upstream_response_time host="$host" ua="$http_user_agent"';
    access_log ${P.nginxLogDir}access.log estate;

    # Client side: slow or idle clients do not hold connections for long.
    client_header_timeout 10s;
    client_body_timeout 30s;
    send_timeout 30s;
    keepalive_timeout 65s;
    client_max_body_size 64m;

    map $http_upgrade $connection_upgrade {
        default upgrade;
        '' '';
    }

    # The Istio ingress gateway on every Kubernetes node, round robin. Passive health: a
    # node that fails twice within 10 s is skipped for 10 s.
    upstream istio_ingress {
${upstreams.join("\n")}
        keepalive 32;
        keepalive_requests 1000;
        keepalive_timeout 60s;
    }

    # HTTP only redirects to HTTPS.
    server {
        listen ${input.vip}:${input.ports.http};
        server_name _;
        location / {
            return 301 https://$host${httpsSuffix}$request_uri;
        }
    }

    server {
        listen ${input.vip}:${input.ports.https} ssl http2;
        server_name _;

        ssl_certificate ${P.tlsCertificate};
        ssl_certificate_key ${P.tlsKey};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_prefer_server_ciphers off;
        ssl_session_cache shared:SSL:10m;
        ssl_session_timeout 1d;
        ssl_session_tickets off;
        add_header Strict-Transport-Security "max-age=31536000" always;

        location / {
            proxy_pass http://istio_ingress;
            # From this balancer's loopback: the gateway's NetworkPolicy admits the
            # balancers' loopbacks only (externalTrafficPolicy Local keeps the source).
            proxy_bind ${self.loopback};
            proxy_http_version 1.1;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Host $host;
            # The edge: the client address replaces whatever the client claimed.
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Forwarded-Port ${input.ports.https};
            proxy_connect_timeout 2s;
            proxy_send_timeout 60s;
            proxy_read_timeout 60s;
            # A failed node is retried on the next one, so clients see no error.
            proxy_next_upstream error timeout http_502 http_503 http_504;
            proxy_next_upstream_tries 3;
            proxy_next_upstream_timeout 10s;
        }
    }

    # Monitoring and the VRRP check: local only.
    server {
        listen 127.0.0.1:${STATUS_PORT};
        access_log off;
        location = ${STATUS_PATH} {
            stub_status;
            allow 127.0.0.1;
            deny all;
        }
        location / {
            return 404;
        }
    }
}
${input.apiEndpoint ? `\n${renderApiStream(input.apiEndpoint)}` : ""}`;
}

/** The VRRP instance's name: stable per router id. */
export function vrrpInstanceName(input: FrontTierInput): string {
  return `frontend_${input.vrid}`;
}

export function renderKeepalivedConf(input: FrontTierInput, balancer: string): string {
  const self = balancerOf(input, balancer);
  const peers = input.balancers.filter((b) => b.name !== balancer);
  return `# estate front tier: keepalived on ${balancer}. Managed by estate; local edits are overwritten.
# One VRRPv3 instance holds the VIP ${input.vip}: the highest-priority balancer whose Nginx
# check passes holds it (after a start, after a partition heals, and ${PREEMPT_DELAY} s after a
# recovered balancer's check passes). VRRPv3 has no authentication: nftables on every
# balancer accepts VRRP only from the other balancers (${FRONTEND_PATHS.vrrpFilter}).
global_defs {
    router_id ${balancer}
    script_user root
    enable_script_security
    vrrp_version 3
    # Adverts every ${ADVERT_INT} s must go out and be read on time on a busy host.
    vrrp_priority ${VRRP_NICE}
    vrrp_no_swap
    # Gratuitous ARP: 3 at a transition, 3 more 1 s later, 1 every second while master,
    # 3 when a master hears a lower-priority master (the end of a partition); a master that
    # steps down announces itself first, so the winner always hears it.
    vrrp_garp_master_repeat 3
    vrrp_garp_master_delay 1
    vrrp_garp_master_refresh 1
    vrrp_garp_master_refresh_repeat 1
    vrrp_garp_lower_prio_repeat 3
    vrrp_higher_prio_send_advert
}

# Samples Nginx every 0.2 s for 0.6 s of each run (keepalived runs scripts at most once a second).
vrrp_script chk_nginx {
    script "${FRONTEND_PATHS.nginxCheck}"
    interval 1
    timeout 3
    fall 1
    rise 1
    # A starting balancer claims nothing until its Nginx answers.
    init_fail
}

vrrp_instance ${vrrpInstanceName(input)} {
    state BACKUP
    interface ${self.nic}
    virtual_router_id ${input.vrid}
    priority ${self.priority}
    advert_int ${ADVERT_INT}
    preempt_delay ${PREEMPT_DELAY}
    unicast_src_ip ${self.address}
    unicast_peer {
${peers.map((p) => `        ${p.address} # ${p.name}`).join("\n")}
    }
    virtual_ipaddress {
        ${input.vip}/${input.prefixLength} dev ${self.nic}
    }
    track_script {
        chk_nginx
    }
    # Transitions: the state into the node exporter's textfile collector, and one tagged log line.
    notify "${FRONTEND_PATHS.vrrpNotify}"
}
`;
}

/**
 * The Nginx check keepalived runs every second: samples the local status page every 0.2 s
 * and stops starting samples 0.6 s after it began, so a run ends well inside the 1 s
 * interval even on a busy host (keepalived skips a run while the last one still runs).
 * Exits 1 at once when Nginx refuses the connection or answers with an error, or after two
 * timeouts in a row; 0 when Nginx answered. It runs at nice -10 (keepalived starts scripts
 * at nice 0), so a busy host slows Nginx's answer, not the check.
 */
export function renderNginxCheck(): string {
  return `#!/bin/bash
# estate front tier: does Nginx serve? Run by keepalived every second; exit 1 releases the VIP.
# Managed by estate; local edits are overwritten.
url=http://127.0.0.1:${STATUS_PORT}${STATUS_PATH}
# keepalived runs checks at nice 0: on a busy host the check itself must not be what is slow.
renice -n -10 -p $$ >/dev/null 2>&1 || true
start=\${EPOCHREALTIME//[!0-9]/}
slow=0
while :; do
  rc=0
  curl -fsS -m 0.3 -o /dev/null "$url" 2>/dev/null || rc=$?
  case "$rc" in
    0) slow=0 ;;
    28) # timed out: one slow answer is load, two in a row are a failure
      slow=$((slow + 1))
      ((slow < 2)) || exit 1 ;;
    *) exit 1 ;; # refused (not running), HTTP error, ...
  esac
  now=\${EPOCHREALTIME//[!0-9]/}
  ((now - start < 600000)) || exit 0
  sleep 0.2
done
`;
}

/**
 * The VRRP filter on a balancer: VRRP (IP protocol 112) only from the other balancers'
 * front-tier addresses on the front NIC with TTL 255; all other VRRP is counted and dropped.
 * Loading the file twice gives the same ruleset: it creates the table, deletes it, and
 * defines it whole, in one atomic transaction.
 */
export function renderVrrpFilter(input: FrontTierInput, balancer: string): string {
  const self = balancerOf(input, balancer);
  const peers = input.balancers.filter((b) => b.name !== balancer);
  const t = VRRP_FILTER_TABLE;
  return `# estate front tier on ${balancer}: VRRP only from the other balancers. Managed by estate.
# VRRPv3 has no authentication; this filter is what keeps a foreign VRRP speaker on the
# segment from taking the VIP. Idempotent: the table is created, deleted and defined anew
# in one transaction.
table inet ${t}
delete table inet ${t}
table inet ${t} {
    chain input {
        type filter hook input priority filter - 10; policy accept;
${peers
  .map(
    (p) =>
      `        iifname "${self.nic}" ip saddr ${p.address} ip ttl 255 meta l4proto 112 accept comment "VRRP from ${p.name}"`,
  )
  .join("\n")}
        meta l4proto 112 counter drop comment "VRRP from anyone else"
    }
}
`;
}

/**
 * keepalived's systemd drop-in: restart whenever it dies, forever, and never leave the VIP
 * behind (a killed keepalived cannot remove it; a starting one is BACKUP).
 */
export function renderKeepalivedDropIn(input: FrontTierInput, balancer: string): string {
  const self = balancerOf(input, balancer);
  const del = `-/sbin/ip -4 address del ${input.vip}/${input.prefixLength} dev ${self.nic}`;
  const notify = FRONTEND_PATHS.vrrpNotify;
  return `# estate front tier on ${balancer}: keepalived is restarted when it dies and leaves no
# stale VIP. Managed by estate; local edits are overwritten.
[Unit]
# Never give up restarting: a balancer that cannot run keepalived holds no VIP anyway.
StartLimitIntervalSec=0

[Service]
Restart=always
RestartSec=${KEEPALIVED_RESTART_SEC}s
# A keepalived that was killed (SIGKILL, OOM) left the VIP on the NIC: remove it after every
# stop and before every start; keepalived adds it back only as master.
ExecStopPost=${del}
ExecStartPre=${del}
# Monitoring: a stopped keepalived holds no VIP, and a starting one has not chosen yet; the
# state metric says so at once (the notify script writes it; a failure never blocks keepalived).
ExecStopPost=-${notify} INSTANCE ${vrrpInstanceName(input)} STOP 0
ExecStartPre=-${notify} INSTANCE ${vrrpInstanceName(input)} INIT 0
`;
}

/**
 * Host preparation, run once the node baseline installed nginx, keepalived and nftables and
 * set non-local bind (the standby's Nginx listens on the VIP it does not hold yet): Nginx's
 * own folders, the folders of the VRRP filter and keepalived's drop-in, nftables loading
 * the estate's rule files at boot, and Debian's default Nginx stopped until our config
 * replaces it (its `*:80` would block a reload onto `VIP:80`).
 */
export function renderSetup(balancer: string): string {
  const P = FRONTEND_PATHS;
  const include = `include "${P.nftDir}*.nft"`;
  return `#!/usr/bin/env bash
# estate front tier: prepare ${balancer} for Nginx and keepalived. Idempotent.
set -euo pipefail
for cmd in nginx keepalived curl nft openssl; do
  command -v "$cmd" >/dev/null || { echo "frontend ${balancer}: $cmd missing; the node baseline installs it" >&2; exit 1; }
done
install -d -m 0755 ${P.nginxLogDir} ${P.nginxTempDir} ${P.nftDir} ${P.keepalivedDropIn.replace(/[^/]+$/, "")}
install -d -m 0700 ${P.tlsDir}
# The VRRP filter must survive a reboot: nftables.service loads ${P.nftablesConf}.
if ! grep -qxF '${include}' ${P.nftablesConf} 2>/dev/null; then
  printf '%s\n' '# estate: rule files of the estate parts' '${include}' >>${P.nftablesConf}
fi
systemctl enable nftables >/dev/null 2>&1 || true
if ! grep -q '^# estate front tier' ${P.nginxConf} 2>/dev/null; then
  systemctl stop nginx 2>/dev/null || true
fi
`;
}

/**
 * Applies nginx.conf, the certificate and the key together, once all three are in place:
 * check, then reload gracefully (or start). A separate step, so that rotating the
 * certificate and its key never reloads with one new and one old. Never a restart: a
 * reload keeps the listening sockets, and old workers finish their requests.
 */
export function renderNginxApply(balancer: string): string {
  return `#!/usr/bin/env bash
# estate front tier on ${balancer}: nginx.conf, certificate and key changed; check them
# together, then reload Nginx gracefully (or start it). Never a restart: a reload keeps
# the listening sockets and lets old workers finish their requests. Idempotent.
set -euo pipefail
nginx -t -q -c ${FRONTEND_PATHS.nginxConf}
systemctl enable nginx >/dev/null 2>&1 || true
if systemctl is-active --quiet nginx; then systemctl reload nginx; else systemctl start nginx; fi

${renderTlsMetric()}
`;
}

/**
 * Applies keepalived.conf: check it, load the VRRP filter (again: idempotent) so that no
 * keepalived ever speaks unfiltered, then reload keepalived (or start it).
 */
export function renderKeepalivedApply(balancer: string): string {
  const P = FRONTEND_PATHS;
  return `#!/usr/bin/env bash
# estate front tier on ${balancer}: keepalived.conf changed; check it, load the VRRP filter,
# then reload keepalived (or start it). Idempotent.
set -euo pipefail
keepalived -t -f ${P.keepalivedConf}
nft -f ${P.vrrpFilter}
systemctl enable keepalived >/dev/null 2>&1 || true
if systemctl is-active --quiet keepalived; then systemctl reload keepalived; else systemctl start keepalived; fi
`;
}

/** Metric lines for the textfile collector: `# HELP`, `# TYPE` (gauge) and one sample, as printf words. */
function gaugeLines(name: string, help: string): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`];
}

/** Label values the renderers write into metrics: plain words only (no quote or backslash to escape). */
function labelValue(what: string, v: string): string {
  if (!/^[A-Za-z0-9_./-]+$/.test(v)) throw new Error(`${what}: ${JSON.stringify(v)} is not a plain metric label value`);
  return v;
}

/**
 * keepalived's notify script on a balancer: keepalived runs it as `SCRIPT TYPE NAME STATE
 * PRIORITY` on every transition (as root: `script_user`), and the keepalived drop-in runs it
 * with `INIT` before every start and `STOP` after every stop, so the metric exists before
 * the first transition and never claims a master that stopped. The arguments are data:
 * compared with fixed values (this balancer's one instance, the states keepalived sends),
 * never evaluated; anything else is rejected and logged quoted (`%q`). Writes
 * `estate_vrrp_state` and `estate_vrrp_last_transition_timestamp_seconds` into the node
 * exporter's textfile collector atomically (a temporary file in the same folder, not named
 * `*.prom`, then `mv`), readable by the exporter's user.
 */
export function renderVrrpNotify(input: FrontTierInput, balancer: string, textfileDir: string = TEXTFILE_DIR): string {
  balancerOf(input, balancer);
  const state = TEXTFILE_METRICS.vrrpState;
  const last = TEXTFILE_METRICS.vrrpLastTransition;
  if (state.file !== last.file || state.labels.join() !== last.labels.join())
    throw new Error("conventions: the VRRP state and last-transition metrics must share their file and labels");
  const label = state.labels[0];
  const instance = labelValue("VRRP instance", vrrpInstanceName(input));
  const S = VRRP_STATES;
  const n = (what: string, v: number): string => intLiteral(what, v);
  return `#!/bin/bash
# estate front tier on ${balancer}: keepalived's notify script. Managed by estate; local edits are overwritten.
# Called as: ${FRONTEND_PATHS.vrrpNotify} TYPE NAME STATE PRIORITY. The arguments are data: checked
# against fixed values, never evaluated. Writes the VRRP state into the node exporter's
# textfile collector atomically, and logs one tagged line.
set -euo pipefail
export LC_ALL=C
dir=${shq(textfileDir)}
file=${shq(state.file)}
instance=${shq(instance)}

log() { logger -t estate-frontend -- "$*" 2>/dev/null || true; }
# An argument as the log shows it: at most 64 characters, quoted so nothing in it acts.
shown() { printf '%q' "\${1:0:64}"; }
reject() {
  log "notify rejected: $1"
  echo "estate-vrrp-notify: $1" >&2
  exit 2
}

(($# == 4)) || reject "want 4 arguments (TYPE NAME STATE PRIORITY), got $#"
type=$1 name=$2 state=$3 priority=$4
[[ "$type" == INSTANCE ]] || reject "type $(shown "$type") is not INSTANCE"
[[ "$name" == "$instance" ]] || reject "instance $(shown "$name") is not $instance"
case "$state" in
  MASTER) value=${n("MASTER", S.MASTER)} ;;
  BACKUP) value=${n("BACKUP", S.BACKUP)} ;;
  FAULT) value=${n("FAULT", S.FAULT)} ;;
  # Not running, or not decided yet: INIT. keepalived sends STOP (and DELETED when a reload
  # removes the instance); the unit's ExecStartPre sends INIT.
  INIT | STOP | DELETED) value=${n("INIT", S.INIT)} ;;
  *) reject "state $(shown "$state") is not one of MASTER BACKUP FAULT INIT STOP DELETED" ;;
esac
[[ "$priority" =~ ^[0-9]{1,3}$ ]] && ((10#$priority <= 255)) || reject "priority $(shown "$priority") is not a number 0-255"
now=$(date +%s)

mkdir -p "$dir"
tmp=$(mktemp "$dir/.$file.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  printf '%s\\n' ${gaugeLines(state.name, `VRRP state of the balancer's instance: ${S.INIT} INIT, ${S.BACKUP} BACKUP, ${S.MASTER} MASTER, ${S.FAULT} FAULT (keepalived notify).`).map(shq).join(" ")}
  printf '%s{%s="%s"} %s\\n' ${shq(state.name)} ${shq(label)} "$instance" "$value"
  printf '%s\\n' ${gaugeLines(last.name, "Unix time of the instance's last VRRP state change (keepalived notify).").map(shq).join(" ")}
  printf '%s{%s="%s"} %s\\n' ${shq(last.name)} ${shq(label)} "$instance" "$now"
} >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$dir/$file"
log "$type $name $state $priority"
`;
}

/**
 * Shell that writes the served certificate's notAfter (the first certificate of the chain)
 * into the node exporter's textfile collector as `estate_tls_certificate_not_after_timestamp_seconds`.
 * openssl's answer is data: checked against openssl's one date format, then converted by
 * `date -d`; never evaluated. Atomic (temporary file, then `mv`). Needs `set -e`.
 */
export function renderTlsMetric(
  certificate: string = FRONTEND_PATHS.tlsCertificate,
  textfileDir: string = TEXTFILE_DIR,
): string {
  const m = TEXTFILE_METRICS.tlsNotAfter;
  return `# Monitoring: the served certificate's notAfter into the node exporter's textfile collector.
cert=${shq(certificate)}
tls_dir=${shq(textfileDir)}
tls_file=${shq(m.file)}
end=$(openssl x509 -enddate -noout -in "$cert")
end=\${end#notAfter=}
date_re='^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4} GMT$'
if [[ ! "$end" =~ $date_re ]]; then
  echo "$cert: notAfter $(printf '%q' "\${end:0:64}") is not in openssl's date format" >&2
  exit 1
fi
not_after=$(date -u -d "$end" +%s)
[[ "$not_after" =~ ^[0-9]+$ ]] || { echo "$cert: date could not convert notAfter '$end'" >&2; exit 1; }
mkdir -p "$tls_dir"
tls_tmp=$(mktemp "$tls_dir/.$tls_file.XXXXXX")
{
  printf '%s\\n' ${gaugeLines(m.name, "Unix time when the certificate the balancer serves expires (notAfter).").map(shq).join(" ")}
  printf '%s{%s="%s"} %s\\n' ${shq(m.name)} ${shq(m.labels[0])} ${shq(labelValue("certificate path", certificate))} "$not_after"
} >"$tls_tmp"
chmod 0644 "$tls_tmp"
mv -f "$tls_tmp" "$tls_dir/$tls_file"`;
}

/** Retries of the Nginx exporter at start while Nginx's status page does not answer yet (every 5 s). */
export const NGINX_EXPORTER_RETRIES = 60;

/**
 * `prometheus-nginx-exporter` 0.11 (single-dash Go flags) on the balancer's loopback
 * :`EXPORTERS.nginx.port`, from Nginx's local `stub_status`. It exits at start when the
 * status page does not answer: `-nginx.retries` keeps it waiting for Nginx (and systemd
 * restarts it in any case); once running, a stopped Nginx shows as `nginx_up 0`.
 */
export function nginxExporterService(loopback: string): ExporterService {
  return {
    package: EXPORTERS.nginx.package,
    what: `Nginx exporter (stub_status on 127.0.0.1:${STATUS_PORT}) on the loopback, port ${EXPORTERS.nginx.port}`,
    args: [
      `-web.listen-address=${ipv4Literal("Nginx exporter address", loopback)}:${intLiteral("Nginx exporter port", EXPORTERS.nginx.port)}`,
      `-nginx.scrape-uri=http://127.0.0.1:${intLiteral("status port", STATUS_PORT)}${STATUS_PATH}`,
      `-nginx.retries=${intLiteral("retries", NGINX_EXPORTER_RETRIES)}`,
    ],
  };
}

/**
 * The Nginx exporter on a balancer, after Nginx runs: drop-in first, the package, a restart
 * only when the drop-in changed. When the loopback is already on `lo` (the fabric's FRR put
 * it there), it also waits until the exporter answers `nginx_up 1`; before that the unit
 * retries on its own until the address appears.
 */
export function renderNginxExporter(input: FrontTierInput, balancer: string): string {
  const self = balancerOf(input, balancer);
  const e = nginxExporterService(self.loopback);
  const url = `http://${self.loopback}:${EXPORTERS.nginx.port}/metrics`;
  return `#!/usr/bin/env bash
# estate front tier on ${balancer}: the Nginx exporter on the loopback. Idempotent.
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
name=${shq(balancer)}

${FILE_FUNCTIONS}

command -v apt-get >/dev/null || { echo "frontend $name: apt-get not found" >&2; exit 1; }
${exporterDropInShell(e)}
${bashArray("packages", [e.package])}
${aptInstallMissing("packages")}
${exporterStartShell(e)}

loopback=${shq(self.loopback)}
url=${shq(url)}
if ip -4 -o address show dev lo | grep -qF " $loopback/"; then
  metrics=""
  for _ in $(seq 1 30); do
    metrics=$(curl -fsS -m 5 "$url" 2>/dev/null) || metrics=""
    [[ "$metrics" == *$'\\n'"nginx_up 1"$'\\n'* ]] && break
    sleep 1
  done
  [[ "$metrics" == *$'\\n'"nginx_up 1"$'\\n'* ]] || { echo "frontend $name: the Nginx exporter at $url does not report nginx_up 1 within 30 s" >&2; exit 1; }
else
  echo "frontend $name: $loopback is not on lo yet (the fabric puts it there); the exporter starts once it is"
fi
echo "frontend $name: Nginx exporter done; changed: \${changed_files[*]:-nothing}"
`;
}
