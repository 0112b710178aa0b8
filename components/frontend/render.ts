/**
 * Pure renderers of the front tier: nginx.conf and keepalived.conf for each balancer,
 * the VRRP authentication include, and the host setup script. No Pulumi, no config reading.
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
 *   fabric inside the estate.
 * - keepalived: one VRRP instance for the VIP, every balancer starts BACKUP with
 *   `nopreempt`: a recovered balancer does not take the VIP back, so each failure costs one
 *   interruption, not two, and a flapping balancer cannot pull the VIP back and forth
 *   (`preempt_delay` only postpones that second interruption). The highest priority wins
 *   the first election. The Nginx check has no weight: a failing check puts the instance in
 *   FAULT, which hands the VIP over even under `nopreempt` (a weight would lower the
 *   priority, which a non-preempting backup ignores).
 * - The VRRP password is secret: it lives in its own include file (delivered as a secret),
 *   so keepalived.conf itself carries no secret and stays a reviewable plan artifact.
 */

import { prefixLength } from "../../config/allocate";
import { isKubernetesNode } from "../../config/model";

/** Where the front tier's files live on a balancer. The lab test substitutes some of these. */
export const FRONTEND_PATHS = {
  nginxConf: "/etc/nginx/nginx.conf",
  nginxPid: "/run/nginx.pid",
  nginxLogDir: "/var/log/nginx/",
  nginxTempDir: "/var/lib/nginx/",
  tlsDir: "/etc/nginx/tls/",
  tlsCertificate: "/etc/nginx/tls/frontend.crt",
  tlsKey: "/etc/nginx/tls/frontend.key",
  keepalivedConf: "/etc/keepalived/keepalived.conf",
  vrrpAuth: "/etc/keepalived/frontend-auth.conf",
} as const;

/** The local-only port of Nginx's `stub_status` (monitoring and the VRRP check). */
export const STATUS_PORT = 8081;
export const STATUS_PATH = "/nginx_status";

/** Priority of the first balancer (by name); each next one is 10 lower. */
export const FIRST_PRIORITY = 150;

export interface FrontendBalancer {
  readonly name: string;
  /** The balancer's own address on the front-tier segment. */
  readonly address: string;
  readonly nic: string;
  readonly priority: number;
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
}

/** The subset of the estate model the front tier reads (structural, so tests can build it). */
export interface FrontTierModel {
  readonly pools: { readonly frontend: string };
  readonly frontend: {
    readonly vip: string;
    readonly vrid: number;
    readonly ports: { readonly https: number; readonly http: number };
  };
  readonly kubernetes: { readonly ingressNodePorts: { readonly http: number } };
  readonly servers: readonly {
    readonly name: string;
    readonly roles: readonly string[];
    readonly loopback: string;
    readonly frontend?: { readonly address: string; readonly nic: string };
  }[];
}

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function frontTierInputFor(estate: FrontTierModel): FrontTierInput {
  const balancers = estate.servers
    .filter((s) => s.roles.includes("lb") && s.frontend)
    .slice()
    .sort(byName)
    .map((s, i) => ({
      name: s.name,
      address: s.frontend!.address,
      nic: s.frontend!.nic,
      priority: FIRST_PRIORITY - 10 * i,
    }));
  const upstreams = estate.servers
    .filter(isKubernetesNode)
    .slice()
    .sort(byName)
    .map((s) => ({ name: s.name, address: s.loopback }));
  return {
    vip: estate.frontend.vip,
    prefixLength: prefixLength(estate.pools.frontend),
    vrid: estate.frontend.vrid,
    ports: { https: estate.frontend.ports.https, http: estate.frontend.ports.http },
    balancers,
    upstreams,
    upstreamPort: estate.kubernetes.ingressNodePorts.http,
  };
}

function balancerOf(input: FrontTierInput, name: string): FrontendBalancer {
  const b = input.balancers.find((x) => x.name === name);
  if (!b)
    throw new Error(`${name} is not a balancer of the front tier (${input.balancers.map((x) => x.name).join(", ")})`);
  return b;
}

export function renderNginxConf(input: FrontTierInput, balancer: string): string {
  balancerOf(input, balancer);
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
`;
}

/** The VRRP instance's name: stable per router id. */
export function vrrpInstanceName(input: FrontTierInput): string {
  return `frontend_${input.vrid}`;
}

export function renderKeepalivedConf(input: FrontTierInput, balancer: string): string {
  const self = balancerOf(input, balancer);
  const peers = input.balancers.filter((b) => b.name !== balancer);
  return `# estate front tier: keepalived on ${balancer}. Managed by estate; local edits are overwritten.
# One VRRP instance holds the VIP ${input.vip}. All balancers start BACKUP with nopreempt:
# the highest priority wins the first election, and a recovered balancer does not take
# the VIP back (one interruption per failure, no flapping). A failing Nginx check puts
# the instance in FAULT, which releases the VIP.
global_defs {
    router_id ${balancer}
    script_user root
    enable_script_security
}

vrrp_script chk_nginx {
    script "/usr/bin/curl -fsS -m 1 -o /dev/null http://127.0.0.1:${STATUS_PORT}${STATUS_PATH}"
    interval 1
    timeout 2
    fall 2
    rise 2
}

vrrp_instance ${vrrpInstanceName(input)} {
    state BACKUP
    nopreempt
    interface ${self.nic}
    virtual_router_id ${input.vrid}
    priority ${self.priority}
    advert_int 1
    unicast_src_ip ${self.address}
    unicast_peer {
${peers.map((p) => `        ${p.address} # ${p.name}`).join("\n")}
    }
    # authentication { auth_type PASS; auth_pass ... }: secret, delivered separately.
    include ${FRONTEND_PATHS.vrrpAuth}
    virtual_ipaddress {
        ${input.vip}/${input.prefixLength} dev ${self.nic}
    }
    track_script {
        chk_nginx
    }
    # Transitions: keepalived logs them itself; this adds one tagged line per change.
    notify "/usr/bin/logger -t estate-frontend"
}
`;
}

/** The VRRP authentication block, included by keepalived.conf. Secret. */
export function renderVrrpAuth(password: string): string {
  return `authentication {
    auth_type PASS
    auth_pass ${password}
}
`;
}

/**
 * Host preparation, run once the node baseline installed nginx and keepalived and set
 * non-local bind (the standby's Nginx listens on the VIP it does not hold yet): Nginx's
 * own folders, and Debian's default Nginx stopped until our config replaces it (its `*:80`
 * would block a reload onto `VIP:80`).
 */
export function renderSetup(balancer: string): string {
  const P = FRONTEND_PATHS;
  return `#!/usr/bin/env bash
# estate front tier: prepare ${balancer} for Nginx and keepalived. Idempotent.
set -euo pipefail
for cmd in nginx keepalived curl; do
  command -v "$cmd" >/dev/null || { echo "frontend ${balancer}: $cmd missing; the node baseline installs it" >&2; exit 1; }
done
install -d -m 0755 ${P.nginxLogDir} ${P.nginxTempDir}
install -d -m 0700 ${P.tlsDir}
if ! grep -q '^# estate front tier' ${P.nginxConf} 2>/dev/null; then
  systemctl stop nginx 2>/dev/null || true
fi
`;
}

/**
 * Applies nginx.conf, the certificate and the key together, once all three are in place:
 * check, then reload gracefully (or start). A separate step, so that rotating the
 * certificate and its key never reloads with one new and one old.
 */
export function renderNginxApply(balancer: string): string {
  return `#!/usr/bin/env bash
# estate front tier on ${balancer}: nginx.conf, certificate and key changed; check them
# together, then reload Nginx gracefully (or start it). Idempotent.
set -euo pipefail
nginx -t -q -c ${FRONTEND_PATHS.nginxConf}
systemctl enable nginx >/dev/null 2>&1 || true
if systemctl is-active --quiet nginx; then systemctl reload nginx; else systemctl start nginx; fi
`;
}

/** Applies keepalived.conf and its auth include together: check, then reload (or start). */
export function renderKeepalivedApply(balancer: string): string {
  return `#!/usr/bin/env bash
# estate front tier on ${balancer}: keepalived.conf or its auth include changed; check
# them together, then reload keepalived (or start it). Idempotent.
set -euo pipefail
keepalived -t -f ${FRONTEND_PATHS.keepalivedConf}
systemctl enable keepalived >/dev/null 2>&1 || true
if systemctl is-active --quiet keepalived; then systemctl reload keepalived; else systemctl start keepalived; fi
`;
}
