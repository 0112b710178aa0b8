/**
 * FRR 8.4 configs for the fabric and the shell that applies them on a host. Pure: typed
 * input in, text out, deterministic (plan order, no timestamps).
 *
 * Every node (spine, leaf, routed server) runs the same shape: its loopback /32 on `lo`,
 * eBGP to each fabric neighbour through one peer-group, BFD with one profile on every
 * session, ECMP with `as-path multipath-relax`, and prefix filters so only loopbacks and
 * the estate's own prefixes enter or leave (never a default route). A server announces
 * its loopback only, so it never becomes transit between its two leaves.
 *
 * No config module here: `input.ts` turns the estate model and the fabric plan into `FrrInput`.
 */
import { EXPORTERS } from "../monitoring/conventions";
import {
  aptInstallMissing,
  type ExporterService,
  exporterDropInShell,
  exporterStartShell,
  ipv4Literal,
  nodeExporterService,
} from "../node/render";
import { bashArray, FILE_FUNCTIONS, intLiteral, shq } from "../shared/shell";

export interface FrrInput {
  readonly name: string;
  readonly kind: "spine" | "leaf" | "server";
  readonly asn: number;
  readonly loopback: string;
  readonly sessions: readonly {
    readonly iface: string;
    readonly peer: string;
    readonly peerAddress?: string;
    readonly localAddress?: string;
    /** Set when the peer is a server: the only prefix accepted from it (its loopback /32). */
    readonly serverLoopback?: string;
  }[];
  readonly bfd: { readonly intervalMs: number; readonly multiplier: number };
  readonly maximumPaths: number;
  /** CIDRs the fabric carries: loopbacks (as /32s) and the estate's other own prefixes. */
  readonly loopbackPool: string;
  readonly ownPrefixes: readonly string[];
}

export const PEER_GROUP = "fabric";
export const BFD_PROFILE = "fabric";

export function renderFrrConf(i: FrrInput): string {
  const numbered = i.sessions.some((s) => s.peerAddress);
  const lines: string[] = [
    `! FRR config of ${i.kind} ${i.name}, rendered by estate (components/fabric). Do not edit by hand.`,
    "frr version 8.4",
    "frr defaults datacenter",
    `hostname ${i.name}`,
    "service integrated-vtysh-config",
    "!",
    "interface lo",
    ` ip address ${i.loopback}/32`,
    "exit",
    "!",
  ];
  for (const s of i.sessions) {
    lines.push(`interface ${s.iface}`, ` description fabric link to ${s.peer}`);
    if (s.localAddress) lines.push(` ip address ${s.localAddress}`);
    lines.push("exit", "!");
  }
  lines.push(
    "bfd",
    ` profile ${BFD_PROFILE}`,
    `  detect-multiplier ${intLiteral("bfd.multiplier", i.bfd.multiplier)}`,
    `  receive-interval ${intLiteral("bfd.intervalMs", i.bfd.intervalMs)}`,
    `  transmit-interval ${intLiteral("bfd.intervalMs", i.bfd.intervalMs)}`,
    " exit",
    "exit",
    "!",
    `router bgp ${intLiteral("asn", i.asn)}`,
    ` bgp router-id ${i.loopback}`,
    " bgp log-neighbor-changes",
    " bgp bestpath as-path multipath-relax",
    ` neighbor ${PEER_GROUP} peer-group`,
    ` neighbor ${PEER_GROUP} remote-as external`,
    ` neighbor ${PEER_GROUP} bfd`,
    ` neighbor ${PEER_GROUP} bfd profile ${BFD_PROFILE}`,
  );
  const neighbor = (s: (typeof i.sessions)[number]): string => (numbered && s.peerAddress ? s.peerAddress : s.iface);
  for (const s of i.sessions)
    lines.push(
      numbered && s.peerAddress
        ? ` neighbor ${s.peerAddress} peer-group ${PEER_GROUP}`
        : ` neighbor ${s.iface} interface peer-group ${PEER_GROUP}`,
    );
  // A leaf takes from each server only that server's loopback: one server can never
  // announce another's address, a pool or a default.
  const fromServers = i.sessions.filter((s) => s.serverLoopback);
  lines.push(
    " !",
    " address-family ipv4 unicast",
    `  network ${i.loopback}/32`,
    `  neighbor ${PEER_GROUP} activate`,
    `  neighbor ${PEER_GROUP} route-map FABRIC-IN in`,
    `  neighbor ${PEER_GROUP} route-map FABRIC-OUT out`,
    ...fromServers.map((s) => `  neighbor ${neighbor(s)} prefix-list FROM-${s.peer} in`),
    `  maximum-paths ${intLiteral("maximumPaths", i.maximumPaths)}`,
    " exit-address-family",
    "exit",
    "!",
    "ip prefix-list ESTATE seq 5 deny 0.0.0.0/0",
    `ip prefix-list ESTATE seq 10 permit ${i.loopbackPool} ge 32`,
    ...i.ownPrefixes.map((p, k) => `ip prefix-list ESTATE seq ${20 + 10 * k} permit ${p} le 32`),
    `ip prefix-list OWN-LOOPBACK seq 10 permit ${i.loopback}/32`,
    ...[...new Map(fromServers.map((s) => [s.peer, s.serverLoopback])).entries()].map(
      ([peer, lo]) => `ip prefix-list FROM-${peer} seq 10 permit ${lo}/32`,
    ),
    "!",
    "route-map FABRIC-IN permit 10",
    " match ip address prefix-list ESTATE",
    "exit",
    "!",
    "route-map FABRIC-OUT permit 10",
    // A server announces only itself: it must never carry traffic between its leaves.
    ` match ip address prefix-list ${i.kind === "server" ? "OWN-LOOPBACK" : "ESTATE"}`,
    "exit",
    "!",
    "end",
  );
  return `${lines.join("\n")}\n`;
}

/**
 * Checks a candidate frr.conf (`"$new"`, see `renderInstallFile`): syntax only, which is
 * all FRR can check offline; semantic errors surface in the reload below.
 */
export const FRR_CHECK = `vtysh -C -f "$new" >/dev/null`;

/**
 * Applies /etc/frr/frr.conf after it changed: frr-reload.py applies the difference; if
 * that fails the running config may be half applied, so FRR restarts from the file.
 */
export const FRR_RELOAD = `if [[ ! -x /usr/lib/frr/frr-reload.py ]]; then
  echo "frr-reload.py is missing (Debian package frr-pythontools); restarting FRR instead" >&2
  systemctl restart frr
elif ! /usr/lib/frr/frr-reload.py --reload /etc/frr/frr.conf; then
  echo "frr-reload.py failed; restarting FRR so no half-applied config stays" >&2
  systemctl restart frr
fi
for _ in $(seq 1 30); do
  if vtysh -c 'show bgp summary' >/dev/null 2>&1; then exit 0; fi
  sleep 1
done
echo "FRR did not come up with the new /etc/frr/frr.conf" >&2
exit 1`;

/**
 * Enables the daemons the fabric needs (zebra, bgpd, bfdd; staticd stays as shipped) and
 * keeps FRR running. Idempotent: restarts FRR only when /etc/frr/daemons changed. Routers
 * (switches) also forward IPv4 and IPv6; servers are hosts and do not.
 */
export function renderFrrDaemons(i: { readonly name: string; readonly forwarding: boolean }): string {
  return `#!/bin/bash
# Enable FRR's bgpd and bfdd (estate fabric). Idempotent.
set -euo pipefail
name=${shq(i.name)}
daemons=/etc/frr/daemons
if [[ ! -f "$daemons" ]]; then
  echo "FRR is not installed on $name: $daemons is missing (the node baseline installs package frr)" >&2
  exit 1
fi
# frr-reload.py (package frr-pythontools) applies a changed frr.conf without a restart.
if [[ ! -x /usr/lib/frr/frr-reload.py ]] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends frr-pythontools
fi
changed=0
for d in bgpd bfdd; do
  if ! grep -q "^\${d}=yes$" "$daemons"; then
    if grep -q "^\${d}=" "$daemons"; then
      sed -i "s/^\${d}=.*/\${d}=yes/" "$daemons"
    else
      echo "\${d}=yes" >>"$daemons"
    fi
    changed=1
  fi
done
${
  i.forwarding
    ? `cat >/etc/sysctl.d/60-estate-fabric.conf <<'EOF'
net.ipv4.ip_forward = 1
net.ipv6.conf.all.forwarding = 1
net.ipv4.fib_multipath_hash_policy = 1
net.ipv6.fib_multipath_hash_policy = 1
EOF
sysctl -q -p /etc/sysctl.d/60-estate-fabric.conf
`
    : ""
}systemctl enable --quiet frr
if [[ "$changed" -eq 1 ]]; then
  systemctl restart frr
elif ! systemctl is-active --quiet frr; then
  systemctl start frr
fi
`;
}

/**
 * `prometheus-frr-exporter` on `loopback`:`EXPORTERS.frr.port`: BGP and BFD collectors, no OSPF
 * (the fabric runs no ospfd; its collector would fail every scrape). On a host FRR's sockets
 * and vtysh's are in the default folder, which both collectors use as shipped, so no
 * `--frr.socket.dir-path` or `--frr.vtysh.options` (the BFD collector always runs vtysh).
 */
export function frrExporterService(loopback: string): ExporterService {
  return {
    package: EXPORTERS.frr.package,
    what: `FRR exporter (BGP sessions, BFD peers) on the loopback, port ${EXPORTERS.frr.port}`,
    args: [
      `--web.listen-address=${ipv4Literal("FRR exporter address", loopback)}:${intLiteral("FRR exporter port", EXPORTERS.frr.port)}`,
      "--collector.bgp",
      "--collector.bfd",
      "--no-collector.ospf",
    ],
  };
}

export interface FabricExportersInput {
  readonly name: string;
  /** Switches also get the node exporter here (servers get it from their node baseline). */
  readonly kind: "spine" | "leaf" | "server";
  readonly loopback: string;
}

/**
 * The exporters of a node of the fabric, once its frr.conf put the loopback on `lo`: the FRR
 * exporter everywhere, and on switches the node exporter too (a server's comes with its
 * baseline). Switches run a Debian-based network OS with FRR (the fabric installs
 * frr-pythontools the same way): the exporters are its Debian packages. Flags in systemd
 * drop-ins written before the packages are installed; a restart only when a drop-in changed.
 * Then it waits until the FRR exporter answers on the loopback with both collectors working
 * (a BFD collector that cannot run vtysh reports `frr_collector_up{collector="bfd"} 0` and no
 * BFD series at all, so a BFD alert could never fire).
 */
export function renderFabricExporters(i: FabricExportersInput): string {
  const frr = frrExporterService(i.loopback);
  const services = i.kind === "server" ? [frr] : [frr, nodeExporterService(i.loopback)];
  const packages = [...services.map((e) => e.package), "curl"].sort();
  const url = `http://${ipv4Literal("loopback", i.loopback)}:${intLiteral("FRR exporter port", EXPORTERS.frr.port)}/metrics`;
  return `#!/usr/bin/env bash
# estate fabric: the exporters of ${i.kind} ${i.name} on its loopback. Idempotent: a second run changes
# and restarts nothing.
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
name=${shq(i.name)}

${FILE_FUNCTIONS}

command -v apt-get >/dev/null || { echo "exporters $name: apt-get not found; the estate's switches and servers run Debian-based systems (the exporters are Debian packages)" >&2; exit 1; }

# Flags first: the packages' own first start already uses them.
${services.map(exporterDropInShell).join("\n")}

${bashArray("packages", packages)}
${aptInstallMissing("packages")}

${services.map(exporterStartShell).join("\n")}

# The FRR exporter answers on the loopback, with its BGP and BFD collectors working.
url=${shq(url)}
metrics=""
for _ in $(seq 1 30); do
  metrics=$(curl -fsS -m 5 "$url" 2>/dev/null) || metrics=""
  if [[ "$metrics" == *'frr_collector_up{collector="bfd"} 1'* && "$metrics" == *'frr_collector_up{collector="bgp"} 1'* ]]; then
    echo "exporters $name: done; changed: \${changed_files[*]:-nothing}"
    exit 0
  fi
  sleep 1
done
echo "exporters $name: the FRR exporter at $url does not report its BGP and BFD collectors up within 30 s:" >&2
grep '^frr_collector_up' <<<"$metrics" >&2 || echo "(no answer)" >&2
exit 1
`;
}
