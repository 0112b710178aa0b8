/**
 * Pure renderers for K3s: each node's `/etc/rancher/k3s/config.yaml` as an object (the
 * structured artifact `k3s-config`), the install, roll and readiness scripts, the reader
 * of the kubeconfig and its rewrite to the API endpoint, and the Nginx `stream` block
 * that carries the API endpoint on the front tier's VIP. No Pulumi, no config reading.
 *
 * Config as a file, not flags: K3s reads `config.yaml` and every `config.yaml.d/*.yaml`;
 * a key ending in `+` appends to a list. Secrets are never in `config.yaml`: the join
 * tokens are files (`token-file`, `agent-token-file`, 0600, written from stdin) and the
 * S3 credentials are a 0600 drop-in (`config.yaml.d/60-etcd-s3-credentials.yaml`), also
 * from stdin. A drop-in rather than K3s' `etcd-s3-config-secret`: that Secret lives in the
 * cluster, so it cannot serve the first snapshots or a restore into an empty cluster.
 *
 * Monitoring: every server refreshes `estate_etcd_snapshot_last_timestamp_seconds` (the
 * newest local snapshot's time) in the node exporter's textfile collector from a systemd
 * timer (`renderSnapshotMetric*`).
 */
import * as yaml from "js-yaml";
import { TEXTFILE_DIR, TEXTFILE_METRICS } from "../monitoring/conventions";
import { shq } from "../shared/shell";

export const K3S_API_PORT = 6443;
export const K3S_CONFIG_DIR = "/etc/rancher/k3s";
export const K3S_CONFIG_FILE = `${K3S_CONFIG_DIR}/config.yaml`;
export const K3S_TOKEN_FILE = `${K3S_CONFIG_DIR}/token`;
export const K3S_AGENT_TOKEN_FILE = `${K3S_CONFIG_DIR}/agent-token`;
export const K3S_S3_CREDENTIALS_FILE = `${K3S_CONFIG_DIR}/config.yaml.d/60-etcd-s3-credentials.yaml`;
export const K3S_KUBECONFIG = `${K3S_CONFIG_DIR}/k3s.yaml`;
export const K3S_BINARY = "/usr/local/bin/k3s";
/** The kernel settings kubelet insists on under `protect-kernel-defaults`. */
export const K3S_SYSCTL_FILE = "/etc/sysctl.d/91-estate-kubelet.conf";
/** Where the roll records the config it last (re)started K3s with. */
export const K3S_APPLIED_FILE = "/var/lib/rancher/k3s/estate-applied.sha256";
/**
 * Where K3s keeps its local etcd snapshots: its default (`<data-dir>/server/db/snapshots`);
 * the rendered config sets neither `data-dir` nor `etcd-snapshot-dir` (a test holds it so).
 */
export const K3S_SNAPSHOT_DIR = "/var/lib/rancher/k3s/server/db/snapshots";
/** Components K3s ships that the estate replaces (Nginx + Istio, Calico, Ceph RBD). */
export const K3S_DISABLED = ["local-storage", "servicelb", "traefik"] as const;

export type K3sKind = "server" | "agent";

export interface K3sNode {
  readonly name: string;
  readonly kind: K3sKind;
  /** Its loopback: the node IP, the address the fabric routes. */
  readonly address: string;
  /** `key=value` labels and `key=value:Effect` taints, from its roles. */
  readonly labels: readonly string[];
  readonly taints: readonly string[];
}

export interface K3sEtcdS3 {
  /** `host:port` of the RGW S3 endpoint (plain HTTP on the fabric). */
  readonly endpoint: string;
  readonly bucket: string;
  readonly folder: string;
}

export interface K3sClusterInput {
  readonly version: string;
  /** The binary's URL (mirror, version, `k3s`). */
  readonly binaryUrl: string;
  readonly sha256: string;
  /** The first server: it starts with `cluster-init`; every other node joins through it. */
  readonly firstServer: K3sNode;
  readonly servers: readonly K3sNode[];
  readonly agents: readonly K3sNode[];
  readonly podCidr: string;
  readonly serviceCidr: string;
  readonly apiEndpoint: { readonly name: string; readonly address: string };
  readonly etcdSnapshots: {
    readonly schedule: string;
    readonly retention: number;
    /** Off without a cold tier: snapshots stay on the servers. */
    readonly s3?: K3sEtcdS3;
  };
}

export type K3sConfig = Readonly<Record<string, string | number | boolean | readonly string[]>>;

function sortedObject(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k]]),
  );
}

/** The URL other nodes join through: the first server's supervisor (same port as the API). */
export function joinUrl(input: K3sClusterInput): string {
  return `https://${input.firstServer.address}:${K3S_API_PORT}`;
}

/** The API endpoint's URL (the front tier's VIP). */
export function apiEndpointUrl(input: Pick<K3sClusterInput, "apiEndpoint">): string {
  return `https://${input.apiEndpoint.address}:${K3S_API_PORT}`;
}

/** `/etc/rancher/k3s/config.yaml` of one node, as an object with sorted keys. */
export function k3sConfig(input: K3sClusterInput, node: K3sNode): K3sConfig {
  const common: Record<string, string | number | boolean | readonly string[]> = {
    "node-name": node.name,
    "node-ip": node.address,
    "token-file": K3S_TOKEN_FILE,
    // kubelet refuses to start when the kernel settings differ from what it needs, rather
    // than changing them (the install script sets them first).
    "protect-kernel-defaults": true,
    // CIS 4.2.5: idle exec/attach/port-forward streams close after five minutes.
    "kubelet-arg": ["streaming-connection-idle-timeout=5m"],
  };
  if (node.labels.length) common["node-label"] = [...node.labels];
  if (node.taints.length) common["node-taint"] = [...node.taints];
  if (node.kind === "agent") {
    // Agents join with the agent token only: a leaked agent cannot join as a server.
    return sortedObject({ ...common, server: joinUrl(input), "token-file": K3S_AGENT_TOKEN_FILE }) as K3sConfig;
  }
  const server: Record<string, string | number | boolean | readonly string[]> = {
    ...common,
    "agent-token-file": K3S_AGENT_TOKEN_FILE,
    "advertise-address": node.address,
    // The API listens on the node's loopback only: a balancer that is also a K3s server
    // (dev) serves the API endpoint on the VIP's 6443, which a wildcard bind would block.
    "bind-address": node.address,
    "cluster-cidr": input.podCidr,
    "service-cidr": input.serviceCidr,
    disable: [...K3S_DISABLED],
    // Calico is the CNI and enforces network policy: no flannel, no built-in policy controller.
    "flannel-backend": "none",
    "disable-network-policy": true,
    "tls-san": [input.apiEndpoint.name, input.apiEndpoint.address],
    "tls-san-security": true,
    "secrets-encryption": true,
    "write-kubeconfig-mode": "0600",
    "kube-apiserver-arg": ["profiling=false"],
    "kube-controller-manager-arg": ["profiling=false", "terminated-pod-gc-threshold=1000"],
    "kube-scheduler-arg": ["profiling=false"],
    "etcd-expose-metrics": true,
    "etcd-snapshot-schedule-cron": input.etcdSnapshots.schedule,
    "etcd-snapshot-retention": input.etcdSnapshots.retention,
  };
  if (node.name === input.firstServer.name) server["cluster-init"] = true;
  else server.server = joinUrl(input);
  const s3 = input.etcdSnapshots.s3;
  if (s3) {
    Object.assign(server, {
      "etcd-s3": true,
      "etcd-s3-endpoint": s3.endpoint,
      "etcd-s3-bucket": s3.bucket,
      "etcd-s3-folder": s3.folder,
      // RGW answers plain HTTP on the fabric's loopbacks, by path (no bucket DNS names).
      "etcd-s3-insecure": true,
      "etcd-s3-bucket-lookup-type": "path",
      "etcd-s3-retention": input.etcdSnapshots.retention,
    });
  }
  return sortedObject(server) as K3sConfig;
}

/** The file text of a config object: YAML, keys in order, no aliases. */
export function renderK3sConfig(config: K3sConfig): string {
  return `# managed by estate\n${yaml.dump(config, { sortKeys: true, noRefs: true, lineWidth: -1 })}`;
}

/** The S3 credentials drop-in (secret: only ever sent as stdin of a 0600 file). */
export function renderEtcdS3Credentials(accessKey: string, secretKey: string): string {
  return yaml.dump({ "etcd-s3-access-key": accessKey, "etcd-s3-secret-key": secretKey }, { lineWidth: -1 });
}

/** The kernel settings `protect-kernel-defaults` checks (kubelet's own list). */
export const KUBELET_SYSCTLS: readonly (readonly [string, number])[] = [
  ["kernel.keys.root_maxbytes", 25000000],
  ["kernel.keys.root_maxkeys", 1000000],
  ["kernel.panic", 10],
  ["kernel.panic_on_oops", 1],
  ["vm.overcommit_memory", 1],
  ["vm.panic_on_oom", 0],
];

/**
 * Shell that sets `now` to a hash of what K3s last started with (binary, config, the S3
 * drop-in) and `applied` to where it is recorded: the roll restarts K3s when they differ.
 */
function appliedHash(kind: K3sKind): string {
  const files = [K3S_CONFIG_FILE, ...(kind === "server" ? [K3S_S3_CREDENTIALS_FILE] : [])];
  return `applied=${shq(K3S_APPLIED_FILE)}
mkdir -p "$(dirname "$applied")"
files=(${files.map(shq).join(" ")})
now=$( { sha256sum ${shq(K3S_BINARY)}; for f in "\${files[@]}"; do if [[ -f "$f" ]]; then sha256sum "$f"; fi; done; } | sha256sum | cut -d' ' -f1)`;
}

function unitOf(kind: K3sKind): string {
  return kind === "server" ? "k3s" : "k3s-agent";
}

/** Shell that makes sure `$K3S_BINARY` is the pinned, verified binary; sets `replaced=1` when it changed it. */
function fetchVerified(input: K3sClusterInput): string {
  return `url=${shq(input.binaryUrl)}
want=${shq(input.sha256)}
binary=${shq(K3S_BINARY)}
replaced=0
have=""
if [[ -f "$binary" ]]; then have=$(sha256sum "$binary" | cut -d' ' -f1); fi
if [[ "$have" != "$want" ]]; then
  tmp=$(mktemp "$binary.estate.XXXXXX")
  trap 'rm -f "$tmp"' EXIT
  curl -fsSL --retry 5 --retry-delay 2 --connect-timeout 15 -o "$tmp" "$url"
  got=$(sha256sum "$tmp" | cut -d' ' -f1)
  if [[ "$got" != "$want" ]]; then
    echo "estate: $url has sha256 $got, not the configured $want (estate:kubernetes.k3s.sha256); refusing to install it" >&2
    exit 1
  fi
  chmod 0755 "$tmp"
  mv -f "$tmp" "$binary"
  trap - EXIT
  replaced=1
fi`;
}

function sysctlBlock(): string {
  const lines = KUBELET_SYSCTLS.map(([k, v]) => `${k} = ${v}`).join("\n");
  return `mkdir -p /etc/sysctl.d
cat >${shq(K3S_SYSCTL_FILE)} <<'ESTATE_EOF'
# managed by estate: what kubelet requires under protect-kernel-defaults
${lines}
ESTATE_EOF
sysctl -q -p ${shq(K3S_SYSCTL_FILE)}`;
}

function unitBlock(kind: K3sKind): string {
  const unit = unitOf(kind);
  return `cat >${shq(`/etc/systemd/system/${unit}.service.estate-new`)} <<'ESTATE_EOF'
# managed by estate
[Unit]
Description=K3s ${kind}
Documentation=https://docs.k3s.io
Wants=network-online.target
After=network-online.target frr.service

[Service]
Type=${kind === "server" ? "notify" : "exec"}
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=${K3S_BINARY} ${kind}
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
ESTATE_EOF
unit=${shq(`/etc/systemd/system/${unit}.service`)}
if ! cmp -s "$unit.estate-new" "$unit"; then mv -f "$unit.estate-new" "$unit"; systemctl daemon-reload; else rm -f "$unit.estate-new"; fi`;
}

/** Shell that waits until this server's API answers /readyz (local kubeconfig). */
function waitApi(): string {
  return `for _ in $(seq 1 120); do
  if ${K3S_BINARY} kubectl --kubeconfig ${shq(K3S_KUBECONFIG)} get --raw /readyz >/dev/null 2>&1; then break; fi
  sleep 5
done
${K3S_BINARY} kubectl --kubeconfig ${shq(K3S_KUBECONFIG)} get --raw /readyz >/dev/null`;
}

/**
 * First install of a node (idempotent): kernel settings, the pinned binary only when no
 * K3s is there yet (replacing one is the roll's job, one node at a time), the unit, then
 * start. A server waits for its API; an agent for its service. Nodes are not Ready until
 * Calico runs, so readiness is the roll's wait, after the CNI.
 */
export function renderInstall(input: K3sClusterInput, node: K3sNode): string {
  const unit = unitOf(node.kind);
  return `#!/usr/bin/env bash
# estate: install K3s ${input.version} (${node.kind}) on ${node.name}
set -euo pipefail
${sysctlBlock()}
for f in ${shq(K3S_CONFIG_FILE)} ${shq(K3S_TOKEN_FILE)}${node.kind === "server" ? ` ${shq(K3S_AGENT_TOKEN_FILE)}` : ""}; do
  [[ -s "$f" ]] || { echo "estate: $f is missing; it is written before this step" >&2; exit 1; }
done
if [[ ! -x ${shq(K3S_BINARY)} ]]; then
${fetchVerified(input)}
  if [[ "$replaced" == 1 ]]; then echo "estate: installed K3s ${input.version} at $binary"; fi
fi
${node.kind === "server" ? `for tool in kubectl crictl ctr; do ln -sfn ${shq(K3S_BINARY)} "/usr/local/bin/$tool"; done\n` : ""}${unitBlock(node.kind)}
systemctl enable --now ${unit}.service
${node.kind === "server" ? waitApi() : `systemctl is-active --quiet ${unit}.service`}
# What it started with: the roll restarts only when this changes.
${appliedHash(node.kind)}
if [[ ! -f "$applied" ]]; then echo "$now" >"$applied"; fi
`;
}

/**
 * One step of the roll on a node: the pinned binary (downloaded and verified when it
 * differs), a restart when the binary or the config changed since the last start, then
 * (servers) wait until the node is Ready. A failure stops here, and with it every later
 * step of the roll.
 */
export function renderRoll(input: K3sClusterInput, node: K3sNode): string {
  const unit = unitOf(node.kind);
  return `#!/usr/bin/env bash
# estate: roll K3s ${input.version} (${node.kind}) on ${node.name}
set -euo pipefail
${fetchVerified(input)}
${appliedHash(node.kind)}
if [[ "$replaced" == 1 || ! -f "$applied" || "$(cat "$applied")" != "$now" ]]; then
  systemctl restart ${unit}.service
  echo "$now" >"$applied"
fi
${node.kind === "server" ? `${waitApi()}\n${renderWaitReady(node.name)}` : `systemctl is-active --quiet ${unit}.service`}
`;
}

/** Runs on a server: waits until node `name` is Ready (what the roll waits for after each node). */
export function renderWaitReady(name: string): string {
  return `node=${shq(name)}
if ! ${K3S_BINARY} kubectl --kubeconfig ${shq(K3S_KUBECONFIG)} wait --for=condition=Ready "node/$node" --timeout=600s; then
  echo "estate: node $node is not Ready after 10 minutes; the roll stops here" >&2
  exit 1
fi`;
}

/** The script of a readiness step (run on the first server for an agent). */
export function renderReadyCheck(name: string): string {
  return `#!/usr/bin/env bash
set -euo pipefail
${renderWaitReady(name)}
`;
}

/** Prints the admin kubeconfig (secret output). */
export function renderReadKubeconfig(): string {
  return `#!/usr/bin/env bash
set -euo pipefail
cat ${shq(K3S_KUBECONFIG)}
`;
}

/** The kubeconfig with every cluster's server rewritten to the API endpoint. */
export function rewriteKubeconfig(text: string, serverUrl: string): string {
  const doc = yaml.load(text) as { clusters?: { cluster?: { server?: string } }[] } | null;
  if (!doc || !Array.isArray(doc.clusters) || doc.clusters.length === 0)
    throw new Error("the kubeconfig read from the first server has no clusters");
  for (const c of doc.clusters) if (c.cluster) c.cluster.server = serverUrl;
  return yaml.dump(doc, { lineWidth: -1, noRefs: true });
}

/** Batches of the agents for the roll: at most `percent` of them each (at least one node). */
export function agentBatches<T>(agents: readonly T[], percent: number): T[][] {
  const size = Math.max(1, Math.ceil((agents.length * percent) / 100));
  const out: T[][] = [];
  for (let i = 0; i < agents.length; i += size) out.push(agents.slice(i, i + size));
  return out;
}

/**
 * The API endpoint on the balancers: a `stream` block (top level of nginx.conf, beside
 * `http`) that listens on the VIP at 6443 and passes TCP to every K3s server's loopback.
 * TLS is end to end (the servers' certificates carry the endpoint's name and address in
 * their SANs). A server that refuses or times out is skipped for 10 s and the connection
 * goes to the next: losing any one server leaves the endpoint up. Needs Nginx's stream
 * module (Debian: libnginx-mod-stream, loaded by /etc/nginx/modules-enabled).
 */
export function renderApiStream(input: {
  readonly vip: string;
  readonly servers: readonly { readonly name: string; readonly address: string }[];
}): string {
  const upstreams = input.servers.map(
    (s) => `        server ${s.address}:${K3S_API_PORT} max_fails=1 fail_timeout=10s; # ${s.name}`,
  );
  return `stream {
    upstream k3s_api {
${upstreams.join("\n")}
    }
    server {
        listen ${input.vip}:${K3S_API_PORT};
        proxy_pass k3s_api;
        proxy_connect_timeout 2s;
        proxy_timeout 1h;
        proxy_next_upstream on;
        proxy_next_upstream_tries 3;
    }
}
`;
}

/** The etcd snapshot metric's script and systemd units on every K3s server. */
export const SNAPSHOT_METRIC = {
  script: "/usr/local/sbin/estate-etcd-snapshot-metric",
  service: "/etc/systemd/system/estate-etcd-snapshot-metric.service",
  timer: "/etc/systemd/system/estate-etcd-snapshot-metric.timer",
  /** The systemd unit names. */
  serviceUnit: "estate-etcd-snapshot-metric.service",
  timerUnit: "estate-etcd-snapshot-metric.timer",
  /** How often the timer refreshes the metric (systemd calendar: every 5 minutes). */
  onCalendar: "*:0/5",
} as const;

/**
 * The script the timer runs on a K3s server: the newest local etcd snapshot's modification
 * time (Unix seconds) as `estate_etcd_snapshot_last_timestamp_seconds` in the node
 * exporter's textfile collector, 0 when there is none (or no folder), so the stale-snapshot
 * alert fires instead of the series going absent. Only regular, not hidden files directly in
 * the folder count, not etcd's partial `*.part` files. File names are data: `find -printf
 * '%T@'` prints only times, no name is ever read, printed or evaluated. Written atomically
 * (a temporary file in the same folder, not named `*.prom`, then `mv`), mode 0644.
 * The same text on every server (no inventory text in it). Idempotent.
 */
export function renderSnapshotMetricScript(): string {
  const m = TEXTFILE_METRICS.etcdSnapshot;
  if (m.labels.length !== 0) throw new Error("conventions: the etcd snapshot metric has no labels");
  return `#!/bin/bash
# estate: the newest local etcd snapshot's time into the node exporter's textfile collector.
# Run by ${SNAPSHOT_METRIC.timerUnit} on every K3s server. Managed by estate; local edits are overwritten.
# File names are data: only modification times are read (find -printf), never a name.
set -euo pipefail
export LC_ALL=C
snapshots=${shq(K3S_SNAPSHOT_DIR)}
dir=${shq(TEXTFILE_DIR)}
file=${shq(m.file)}

newest=0
if [[ -d "$snapshots" ]]; then
  # One line per snapshot: its mtime as seconds.fraction (a failing find fails the script).
  times=$(find "$snapshots" -mindepth 1 -maxdepth 1 -type f ! -name '.*' ! -name '*.part' -printf '%T@\\n')
  while IFS= read -r t; do
    t=\${t%%.*}
    if [[ "$t" =~ ^[0-9]{1,15}$ ]] && ((10#$t > newest)); then newest=$((10#$t)); fi
  done <<<"$times"
fi

mkdir -p "$dir"
tmp=$(mktemp "$dir/.$file.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  printf '%s\\n' ${shq(`# HELP ${m.name} Unix time of the newest local etcd snapshot of this K3s server (0: none).`)} ${shq(`# TYPE ${m.name} gauge`)}
  printf '%s %s\\n' ${shq(m.name)} "$newest"
} >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$dir/$file"
`;
}

/** The oneshot service the timer starts: the script, with nothing to write but the textfile folder. */
export function renderSnapshotMetricService(): string {
  return `# managed by estate
[Unit]
Description=estate: the newest local etcd snapshot's time for the node exporter
Documentation=https://docs.k3s.io/cli/etcd-snapshot

[Service]
Type=oneshot
ExecStart=${SNAPSHOT_METRIC.script}
Nice=10
IOSchedulingClass=idle
NoNewPrivileges=yes
PrivateTmp=yes
PrivateNetwork=yes
ProtectHome=yes
ProtectSystem=strict
ReadWritePaths=${TEXTFILE_DIR}
`;
}

/** The timer: every five minutes, and at boot for a run missed while the server was off. */
export function renderSnapshotMetricTimer(): string {
  return `# managed by estate
[Unit]
Description=estate: refresh the etcd snapshot metric every five minutes

[Timer]
OnCalendar=${SNAPSHOT_METRIC.onCalendar}
Persistent=true
AccuracySec=30s

[Install]
WantedBy=timers.target
`;
}

/**
 * Starts the timer (after the script and units are in place) and runs the service once,
 * so the metric exists before the first tick; fails when the metric file is not there.
 * Rerun (by triggers) whenever the script or a unit changes. Idempotent.
 */
export function renderSnapshotMetricEnable(): string {
  return `#!/usr/bin/env bash
# estate: the etcd snapshot metric's timer on a K3s server
set -euo pipefail
systemctl daemon-reload
systemctl enable ${SNAPSHOT_METRIC.timerUnit}
systemctl restart ${SNAPSHOT_METRIC.timerUnit}
# Once now (a oneshot start returns when the script has finished).
systemctl start ${SNAPSHOT_METRIC.serviceUnit}
test -s ${shq(`${TEXTFILE_DIR}/${TEXTFILE_METRICS.etcdSnapshot.file}`)}
`;
}

/**
 * The teardown of each part when a server stops being a K3s server (run as root: `sudo -n`
 * unless the user is root): the timer is disabled and stopped, the units and the script
 * removed, and the metric file too (the alerts only watch K3s servers).
 */
export function renderSnapshotMetricDelete(user: string, part: "script" | "service" | "timer"): string {
  const script = {
    timer: `systemctl disable --now ${SNAPSHOT_METRIC.timerUnit} || true; rm -f ${SNAPSHOT_METRIC.timer}; systemctl daemon-reload`,
    service: `rm -f ${SNAPSHOT_METRIC.service} ${TEXTFILE_DIR}/${TEXTFILE_METRICS.etcdSnapshot.file}; systemctl daemon-reload`,
    script: `rm -f ${SNAPSHOT_METRIC.script}`,
  }[part];
  const cmd = `sh -c ${shq(script)}`;
  return user === "root" ? cmd : `sudo -n ${cmd}`;
}
