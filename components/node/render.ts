/**
 * Pure renderers for a hardware node: the read-only preflight, host networking and the
 * idempotent OS baseline. Typed input in, bash text out; no Pulumi, no config reading
 * (`input.ts` turns the estate model into these inputs).
 *
 * Inventory text never becomes code: every string reaches a script as one single-quoted
 * word (`shq`, `bashArray`) or inside a quoted heredoc, and only numbers the renderer
 * formats itself (`intLiteral`) ever meet bash arithmetic. Records are never packed into
 * one string and split again: each field has its own array, index by index.
 */
import { EXPORTERS, TEXTFILE_DIR } from "../monitoring/conventions";
import { bashArray, FILE_FUNCTIONS, heredoc, intLiteral, shq } from "../shared/shell";

export type DiskClass = "nvme" | "ssd" | "hdd";
export type DiskUse = "osd" | "os" | "spare";

/** What preflight checks: the inventory's hardware entry of one server. */
export interface PreflightHardware {
  readonly sockets: number;
  /** Physical cores over all sockets. */
  readonly cores: number;
  /** Installed memory in GiB. */
  readonly memoryGiB: number;
  readonly disks: readonly {
    readonly path: string;
    readonly class: DiskClass;
    readonly use: DiskUse;
    readonly serial?: string;
    /** Size in GB (10^9 bytes) as sold; accepted 2% either way. */
    readonly sizeGB?: number;
  }[];
  readonly nics: readonly { readonly name: string; readonly speedGbps: number }[];
}

export interface PreflightInput {
  readonly host: string;
  readonly hardware: PreflightHardware;
  readonly requireSecureBoot: boolean;
  readonly requireTpm: boolean;
  /** Whole percent: how far MemTotal may fall below the installed memory. */
  readonly memoryTolerancePercent: number;
}

export interface BaselineInput {
  readonly host: string;
  readonly fqdn: string;
  /** The address the host's own name resolves to. */
  readonly address: string;
  readonly timezone: string;
  readonly timeServers: readonly string[];
  readonly sshUser: string;
  /** Kubernetes node: forwarding, bridge netfilter, swap off. */
  readonly kubernetes: boolean;
  /** Load balancer: may bind the VIP before it holds it. */
  readonly balancer: boolean;
  readonly rpFilter: "loose" | "strict";
  readonly packages: readonly string[];
  /** Where the node exporter listens: the host's fabric loopback /32 (port `EXPORTERS.node.port`). */
  readonly exporterAddress: string;
}

export interface NetworkInput {
  readonly host: string;
  /** Fabric uplinks: brought up with IPv6 link-local only (eBGP unnumbered, RFC 5549). */
  readonly uplinks: readonly { readonly nic: string; readonly speedMbps: number; readonly peer: string }[];
  /** Balancers: the address on the front-tier segment, and the segment's gateway if any. */
  readonly frontend?: {
    readonly nic: string;
    readonly address: string;
    readonly prefixLength: number;
    readonly segment: string;
    readonly gateway?: string;
  };
}

/** Routing table for replies from the front-tier segment (VIP and balancer addresses). */
export const FRONTEND_TABLE = 120;

/** An Ethernet speed in Gb/s (1, 2.5, ... 800) as whole Mb/s, what the kernel reports. */
export function gbpsToMbps(gbps: number): number {
  return Math.round(gbps * 1000);
}

export function renderPreflight(input: PreflightInput): string {
  const hw = input.hardware;
  const wantKib = hw.memoryGiB * 1048576;
  const tolerance = input.memoryTolerancePercent;
  if (!Number.isInteger(tolerance) || tolerance < 0 || tolerance > 100)
    throw new Error(`preflight ${input.host}: memoryTolerancePercent ${tolerance} is not a whole percent`);
  const minKib = Math.floor((wantKib * (100 - tolerance)) / 100);
  // A size is accepted 2% either way, in whole GB as lsblk reports them.
  const sizeRange = (gb: number | undefined): [string, string] =>
    gb === undefined
      ? ["", ""]
      : [
          intLiteral("disk sizeGB", Math.ceil((gb * 98) / 100)),
          intLiteral("disk sizeGB", Math.floor((gb * 102) / 100)),
        ];
  const sizes = hw.disks.map((d) => sizeRange(d.sizeGB));
  return `#!/usr/bin/env bash
# estate preflight: read-only. Prints the machine's hardware facts as JSON on stdout and
# fails, naming every mismatch, when the machine differs from the inventory.
set -euo pipefail
export LC_ALL=C

host=${shq(input.host)}
want_sockets=${intLiteral("sockets", hw.sockets)}
want_cores=${intLiteral("cores", hw.cores)}
want_memory_gib=${intLiteral("memoryGiB", hw.memoryGiB)}
want_kib=${intLiteral("memory KiB", wantKib)}
min_kib=${intLiteral("memory KiB", minKib)}
require_secure_boot=${input.requireSecureBoot ? 1 : 0}
require_tpm=${input.requireTpm ? 1 : 0}

# The inventory, one array per field and the same index in each. Data only: strings are
# compared, never evaluated; the only numbers are the renderer's own digits.
${bashArray(
  "disk_paths",
  hw.disks.map((d) => d.path),
)}
${bashArray(
  "disk_classes",
  hw.disks.map((d) => d.class),
)}
${bashArray(
  "disk_uses",
  hw.disks.map((d) => d.use),
)}
# '' where the inventory gives no serial, or no size.
${bashArray(
  "disk_serials",
  hw.disks.map((d) => d.serial ?? ""),
)}
${bashArray(
  "disk_min_gb",
  sizes.map(([min]) => min),
)}
${bashArray(
  "disk_max_gb",
  sizes.map(([, max]) => max),
)}
${bashArray(
  "nic_names",
  hw.nics.map((n) => n.name),
)}
${bashArray(
  "nic_speeds_mbps",
  hw.nics.map((n) => intLiteral("NIC speed", gbpsToMbps(n.speedGbps))),
)}

problems=()
mismatch() { problems+=("$1"); }
# A number read from the machine, or -1 when it is not one (never evaluated as an expression).
uint_or_minus1() { if [[ "$1" =~ ^[0-9]+$ ]]; then echo "$1"; else echo -1; fi; }

json_str() {
  local s=$1
  s=\${s//\\\\/\\\\\\\\}
  s=\${s//\\"/\\\\\\"}
  s=\${s//$'\\t'/ }
  s=\${s//$'\\n'/ }
  printf '"%s"' "$s"
}

for tool in lscpu lsblk awk; do
  command -v "$tool" >/dev/null || { echo "preflight $host: $tool is missing (util-linux, gawk/mawk)" >&2; exit 2; }
done

# CPU: sockets, and physical cores over all sockets.
sockets=$(lscpu -p=SOCKET | grep -v '^#' | sort -u | wc -l)
cores=$(lscpu -p=SOCKET,CORE | grep -v '^#' | sort -u | wc -l)
[[ "$sockets" == "$want_sockets" ]] || mismatch "cpu: $sockets socket(s), inventory says $want_sockets"
[[ "$cores" == "$want_cores" ]] || mismatch "cpu: $cores physical core(s), inventory says $want_cores"

# Memory: MemTotal sits a little under the installed size (firmware and kernel reserve some).
mem_kib=$(uint_or_minus1 "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)")
if ((mem_kib < min_kib || mem_kib > want_kib)); then
  mismatch "memory: $((mem_kib / 1048576)) GiB usable, inventory says $want_memory_gib GiB installed (allowed: $((min_kib / 1048576))-$want_memory_gib GiB)"
fi

# Disks, by stable path.
for i in "\${!disk_paths[@]}"; do
  path=\${disk_paths[i]} class=\${disk_classes[i]} use=\${disk_uses[i]} serial=\${disk_serials[i]}
  min_gb=\${disk_min_gb[i]} max_gb=\${disk_max_gb[i]}
  if [[ ! -b "$path" ]]; then
    mismatch "disk $path: not present"
    continue
  fi
  dev=$(readlink -f "$path")
  rota=$(lsblk -d -n -o ROTA "$dev" | tr -d ' ')
  want_rota=0
  [[ "$class" == hdd ]] && want_rota=1
  [[ "$rota" == "$want_rota" ]] || mismatch "disk $path ($dev): rotational=$rota, inventory class is $class"
  if [[ "$class" == nvme && "$dev" != /dev/nvme* ]]; then
    mismatch "disk $path ($dev): not an NVMe namespace, inventory class is nvme"
  fi
  if [[ -n "$serial" ]]; then
    got=$(lsblk -d -n -o SERIAL "$dev" | tr -d ' ')
    [[ "$got" == "$serial" ]] || mismatch "disk $path ($dev): serial $got, inventory says $serial"
  fi
  if [[ -n "$min_gb" ]]; then
    bytes=$(uint_or_minus1 "$(lsblk -d -n -b -o SIZE "$dev" | tr -d ' ')")
    got_gb=$((bytes / 1000000000))
    if ((got_gb < min_gb || got_gb > max_gb)); then
      mismatch "disk $path ($dev): $got_gb GB, inventory allows $min_gb-$max_gb GB"
    fi
  fi
  if [[ "$use" == osd ]]; then
    model=$(lsblk -d -n -o MODEL "$dev" | tr -d '\\n')
    case "$model" in
      *LOGICAL*VOLUME* | *PERC* | *MegaRAID* | *RAID*)
        mismatch "disk $path ($dev): '$model' is a RAID logical volume; Ceph OSDs need raw devices (HBA/JBOD mode)"
        ;;
    esac
    if lsblk -n -o MOUNTPOINT "$dev" | grep -q '[^[:space:]]'; then
      mismatch "disk $path ($dev): mounted; an OSD device must be unused by the OS"
    fi
  fi
done

# NICs: present; at the inventory's speed when up. A NIC still administratively down (a
# fresh host) is brought up by the network step, which then checks its speed.
for i in "\${!nic_names[@]}"; do
  nic=\${nic_names[i]} speed=\${nic_speeds_mbps[i]}
  if [[ ! -e "/sys/class/net/$nic" ]]; then
    mismatch "nic $nic: not present"
    continue
  fi
  flags=$(cat "/sys/class/net/$nic/flags" 2>/dev/null || echo 0x0)
  # IFF_UP is bit 0 of the hexadecimal flags.
  [[ "$flags" =~ ^0x[0-9a-fA-F]*[13579bdfBDF]$ ]] || continue
  got=$(uint_or_minus1 "$(cat "/sys/class/net/$nic/speed" 2>/dev/null || echo -1)")
  if ((got <= 0)); then
    mismatch "nic $nic: link down or speed unknown, inventory says $speed Mb/s"
  elif ((got != speed)); then
    mismatch "nic $nic: runs at $got Mb/s, inventory says $speed Mb/s"
  fi
done

# Secure Boot and TPM 2.0.
secure_boot=unknown
if [[ ! -d /sys/firmware/efi ]]; then
  secure_boot=legacy-bios
elif command -v mokutil >/dev/null && sb_out=$(mokutil --sb-state 2>/dev/null); then
  case "$sb_out" in
    *enabled*) secure_boot=enabled ;;
    *disabled*) secure_boot=disabled ;;
  esac
else
  sb_var=/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c
  if [[ -r "$sb_var" ]]; then
    if [[ "$(od -An -t u1 -j 4 -N 1 "$sb_var" | tr -d ' ')" == 1 ]]; then secure_boot=enabled; else secure_boot=disabled; fi
  fi
fi
tpm_version=none
if [[ -r /sys/class/tpm/tpm0/tpm_version_major ]]; then
  tpm_version=$(cat /sys/class/tpm/tpm0/tpm_version_major)
elif [[ -e /dev/tpmrm0 ]]; then
  tpm_version=2
fi
if ((require_secure_boot)) && [[ "$secure_boot" != enabled ]]; then
  mismatch "secure boot: $secure_boot; this stack requires it enabled (or set estate:node.requireSecureBoot false)"
fi
if ((require_tpm)) && [[ "$tpm_version" != 2 ]]; then
  mismatch "tpm: $tpm_version; this stack requires a TPM 2.0 (or set estate:node.requireTpm false)"
fi

# Facts as JSON.
os=$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')
nics_json=""
for dir in /sys/class/net/*; do
  name=\${dir##*/}
  [[ "$name" == lo ]] && continue
  [[ -e "$dir/device" ]] || continue
  speed=$(uint_or_minus1 "$(cat "$dir/speed" 2>/dev/null || echo -1)")
  state=$(cat "$dir/operstate" 2>/dev/null || echo unknown)
  mac=$(cat "$dir/address" 2>/dev/null || echo "")
  nics_json+="\${nics_json:+,}{\\"name\\":$(json_str "$name"),\\"speedMbps\\":$speed,\\"state\\":$(json_str "$state"),\\"mac\\":$(json_str "$mac")}"
done
problems_json=""
for p in "\${problems[@]}"; do problems_json+="\${problems_json:+,}$(json_str "$p")"; done
disks_json=$(lsblk -J -b -d -e 1,7,11 -o NAME,PATH,MODEL,SIZE,SERIAL,ROTA,TYPE,TRAN)
printf '{"host":%s,"sockets":%d,"cores":%d,"memoryKiB":%d,"secureBoot":%s,"tpmVersion":%s,"os":%s,"kernel":%s,"lsblk":%s,"nics":[%s],"problems":[%s]}\\n' \\
  "$(json_str "$host")" "$sockets" "$cores" "$mem_kib" "$(json_str "$secure_boot")" "$(json_str "$tpm_version")" \\
  "$(json_str "$os")" "$(json_str "$(uname -r)")" "$disks_json" "$nics_json" "$problems_json"

if ((\${#problems[@]})); then
  {
    echo "preflight $host: \${#problems[@]} mismatch(es) between this machine and the inventory:"
    for p in "\${problems[@]}"; do echo "  - $p"; done
    echo "Fix the hardware, or correct this server's entry in the stack config, then run pulumi up again."
  } >&2
  exit 1
fi
`;
}

function sysctlLines(input: BaselineInput): string[] {
  const rp = input.rpFilter === "loose" ? 2 : 1;
  const lines = [
    "# managed by estate",
    `# reverse-path filtering: ${input.rpFilter} (${rp}); never 0`,
    `net.ipv4.conf.all.rp_filter = ${rp}`,
    `net.ipv4.conf.default.rp_filter = ${rp}`,
    `net.ipv4.ip_forward = ${input.kubernetes ? 1 : 0}`,
    `net.ipv6.conf.all.forwarding = ${input.kubernetes ? 1 : 0}`,
    "net.netfilter.nf_conntrack_max = 1048576",
    "fs.inotify.max_user_instances = 8192",
    "fs.inotify.max_user_watches = 1048576",
    "# ECMP over both uplinks by flow (addresses and ports), not only by address pair",
    "net.ipv4.fib_multipath_hash_policy = 1",
    "net.ipv6.fib_multipath_hash_policy = 1",
  ];
  if (input.kubernetes) {
    lines.push(
      "net.bridge.bridge-nf-call-iptables = 1",
      "net.bridge.bridge-nf-call-ip6tables = 1",
      "vm.swappiness = 0",
    );
  }
  if (input.balancer) lines.push("net.ipv4.ip_nonlocal_bind = 1");
  return lines;
}

function modules(input: BaselineInput): string[] {
  return input.kubernetes ? ["nf_conntrack", "br_netfilter", "overlay"] : ["nf_conntrack"];
}

export const BASELINE_FILES = {
  sysctl: "/etc/sysctl.d/90-estate.conf",
  modules: "/etc/modules-load.d/estate.conf",
  chrony: "/etc/chrony/chrony.conf",
  sshd: "/etc/ssh/sshd_config.d/00-estate-hardening.conf",
} as const;

/**
 * Shell that installs the Debian packages named in bash array `array` that are missing,
 * and nothing else (one `apt-get update` only when something is missing). Needs `set -e`.
 */
export function aptInstallMissing(array: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(array)) throw new Error(`aptInstallMissing: ${array} is not a bash array name`);
  return `missing=()
for p in "\${${array}[@]}"; do
  dpkg-query -W -f='\${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((\${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "\${missing[@]}"
fi`;
}

/** A Debian exporter package run by systemd with the estate's flags (see `renderExporterDropIn`). */
export interface ExporterService {
  /** The Debian package, which is also the systemd unit's name. */
  readonly package: string;
  /** What it exports, for the drop-in's comment. */
  readonly what: string;
  readonly args: readonly string[];
}

/** The drop-in of `e`'s systemd unit. */
export function exporterDropInPath(e: Pick<ExporterService, "package">): string {
  return `/etc/systemd/system/${e.package}.service.d/estate.conf`;
}

/**
 * A flag as one word of a systemd `ExecStart=` line: letters, digits and `._:/=,+@-` only,
 * so no quoting, specifier (`%`), variable (`$`), escape or separator can reach systemd.
 * Anything else is a programming or validation error and throws here.
 */
function unitWord(word: string): string {
  if (!/^[A-Za-z0-9._:/=,+@-]+$/.test(word))
    throw new Error(`exporter flag ${JSON.stringify(word)} is not one plain word`);
  return word;
}

/**
 * The systemd drop-in that runs a Debian exporter with the estate's flags. The flags live
 * here, not in Debian's `/etc/default/<package>` (whose `ARGS` is no longer read): the
 * drop-in is written before the package is installed, so even the package's first start
 * listens only where it should, and package upgrades never stop on a changed conffile.
 * Exporters listen on the host's fabric loopback, which FRR puts on `lo`: the unit starts
 * after FRR and retries every 5 s, without limit, until the address is there.
 */
export function renderExporterDropIn(e: ExporterService): string {
  return `# estate: ${e.what}. Managed by estate; local edits are overwritten.
# The flags are here; /etc/default/${e.package} (ARGS) is not read.
[Unit]
# It listens on the host's loopback /32, which FRR puts on lo: after FRR, and retried until it is there.
After=frr.service
StartLimitIntervalSec=0

[Service]
EnvironmentFile=
ExecStart=
ExecStart=/usr/bin/${unitWord(e.package)} ${e.args.map(unitWord).join(" ")}
Restart=always
RestartSec=5s
`;
}

/**
 * Shell (after `FILE_FUNCTIONS`) that puts `e`'s drop-in in place and makes systemd read it.
 * Runs before the package is installed, so the package's own first start already uses it.
 */
export function exporterDropInShell(e: ExporterService): string {
  const path = exporterDropInPath(e);
  return `put_file 0644 ${shq(path)} ${heredoc(renderExporterDropIn(e))}
if changed ${shq(path)}; then systemctl daemon-reload; fi`;
}

/**
 * Shell (after the package is installed) that keeps `e` enabled and running, and restarts
 * it only when its drop-in changed in this run.
 */
export function exporterStartShell(e: ExporterService): string {
  const unit = shq(e.package);
  return `systemctl enable --quiet ${unit}
if changed ${shq(exporterDropInPath(e))}; then
  systemctl restart ${unit}
elif ! systemctl is-active --quiet ${unit}; then
  systemctl start ${unit}
fi`;
}

/**
 * The node exporter's collectors: only these (`--collector.disable-defaults`). What the
 * alert rules and dashboards read: CPU, memory and pressure, filesystems, load, clock
 * synchronisation (timex, time), the estate's textfile metrics, plus disks, network,
 * conntrack (the baseline raises its limit), ECC errors (edac), vmstat, and os/uname for
 * inventory labels.
 */
export const NODE_EXPORTER_COLLECTORS = [
  "conntrack",
  "cpu",
  "diskstats",
  "edac",
  "filesystem",
  "loadavg",
  "meminfo",
  "netdev",
  "os",
  "pressure",
  "stat",
  "textfile",
  "time",
  "timex",
  "uname",
  "vmstat",
] as const;

/** An IPv4 address in dotted quad: the only thing an exporter's listen address may be. */
export function ipv4Literal(what: string, address: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (!m || m.slice(1).some((o) => Number(o) > 255 || (o.length > 1 && o.startsWith("0"))))
    throw new Error(`${what}: ${JSON.stringify(address)} is not an IPv4 address`);
  return address;
}

/** `prometheus-node-exporter` on `address`:`EXPORTERS.node.port`, textfile collector on `TEXTFILE_DIR`. */
export function nodeExporterService(address: string): ExporterService {
  return {
    package: EXPORTERS.node.package,
    what: `node exporter on the loopback, port ${EXPORTERS.node.port}, textfile collector ${TEXTFILE_DIR}`,
    args: [
      `--web.listen-address=${ipv4Literal("node exporter address", address)}:${intLiteral("node exporter port", EXPORTERS.node.port)}`,
      "--collector.disable-defaults",
      ...NODE_EXPORTER_COLLECTORS.map((c) => `--collector.${c}`),
      `--collector.textfile.directory=${TEXTFILE_DIR}`,
    ],
  };
}

export function renderBaseline(input: BaselineInput): string {
  const nodeExporter = nodeExporterService(input.exporterAddress);
  const chrony = [
    "# managed by estate",
    ...input.timeServers.map((s) => `server ${s} iburst`),
    "driftfile /var/lib/chrony/chrony.drift",
    "makestep 1.0 3",
    "rtcsync",
    "leapsectz right/UTC",
    "logdir /var/log/chrony",
  ].join("\n");
  const sshd = [
    "# managed by estate. sshd keeps the first value it reads, and Debian's sshd_config",
    "# includes sshd_config.d/*.conf first, so this file's name sorts first.",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitEmptyPasswords no",
    `PermitRootLogin ${input.sshUser === "root" ? "prohibit-password" : "no"}`,
    "PubkeyAuthentication yes",
    "X11Forwarding no",
    "MaxAuthTries 3",
    "LoginGraceTime 30",
  ].join("\n");
  const hostsBlock = ["# BEGIN estate", `${input.address} ${input.fqdn} ${input.host}`, "# END estate"].join("\n");
  return `#!/usr/bin/env bash
# estate OS baseline: time, kernel parameters, sshd, packages, name.
# Idempotent: a second run changes nothing and restarts nothing.
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
host=${shq(input.host)}

${FILE_FUNCTIONS}

command -v apt-get >/dev/null || { echo "baseline $host: apt-get not found; estate nodes run Debian or Ubuntu" >&2; exit 1; }

# The node exporter's flags, in place before its package is installed (its first start uses them).
${exporterDropInShell(nodeExporter)}

# Packages (installed only when missing).
${bashArray("packages", input.packages)}
${aptInstallMissing("packages")}

# Host name, and the host's own name in /etc/hosts (not Debian's 127.0.1.1 alias, which
# Kubernetes and Ceph would advertise).
put_file 0644 /etc/hostname <<<"$host"
if [[ "$(hostname)" != "$host" ]]; then hostname "$host"; fi
hosts_new=$(mktemp)
sed -e '/^# BEGIN estate$/,/^# END estate$/d' -e '/^127\\.0\\.1\\.1[[:space:]]/d' /etc/hosts >"$hosts_new"
cat >>"$hosts_new" ${heredoc(hostsBlock)}
put_file 0644 /etc/hosts <"$hosts_new"
rm -f "$hosts_new"

# Time: the zone, and chrony against the estate's servers only.
zone=/usr/share/zoneinfo/${shq(input.timezone)}
[[ -e "$zone" ]] || { echo "baseline $host: time zone $zone is missing (package tzdata)" >&2; exit 1; }
if [[ "$(readlink -f /etc/localtime)" != "$(readlink -f "$zone")" ]]; then ln -sf "$zone" /etc/localtime; fi
put_file 0644 ${BASELINE_FILES.chrony} ${heredoc(chrony)}
if changed ${BASELINE_FILES.chrony}; then systemctl restart chrony; fi
systemctl enable --now chrony >/dev/null 2>&1

# Kernel modules and parameters.
put_file 0644 ${BASELINE_FILES.modules} ${heredoc(modules(input).join("\n"))}
${modules(input)
  .map((m) => `modprobe ${m}`)
  .join("\n")}
put_file 0644 ${BASELINE_FILES.sysctl} ${heredoc(sysctlLines(input).join("\n"))}
sysctl -q -p ${BASELINE_FILES.sysctl}
${
  input.kubernetes
    ? `
# Kubernetes nodes run without swap.
swapoff -a
fstab_new=$(mktemp)
awk '$1 !~ /^#/ && $3 == "swap" {print "#" $0; next} {print}' /etc/fstab >"$fstab_new"
put_file 0644 /etc/fstab <"$fstab_new"
rm -f "$fstab_new"
systemctl mask swap.target >/dev/null 2>&1
`
    : ""
}
# sshd: keys only, validated before reload; a config sshd rejects is rolled back.
if ! grep -Eq '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\\.d/\\*\\.conf' /etc/ssh/sshd_config; then
  echo "baseline $host: /etc/ssh/sshd_config does not include sshd_config.d/*.conf; add the Include line first" >&2
  exit 1
fi
put_file 0644 ${BASELINE_FILES.sshd} ${heredoc(sshd)}
if changed ${BASELINE_FILES.sshd}; then
  mkdir -p /run/sshd
  if ! sshd -t; then
    restore_file ${BASELINE_FILES.sshd}
    echo "baseline $host: sshd rejected the hardened config; restored the previous one" >&2
    exit 1
  fi
  systemctl reload ssh
fi
# No password for root: keys only.
if [[ "$(passwd -S root | awk '{print $2}')" != L ]]; then passwd -l root >/dev/null; fi

# Monitoring: the node exporter on the loopback (it retries until FRR has put the address on
# lo); other estate parts write their metrics into its textfile collector.
install -d -m 0755 ${shq(TEXTFILE_DIR)}
${exporterStartShell(nodeExporter)}

echo "baseline $host: done; changed: \${changed_files[*]:-nothing}"
`;
}

/** Teardown when a node leaves the estate: drop the estate's kernel settings. sshd and time stay hardened. */
export function renderBaselineDelete(user: string): string {
  const rm = `rm -f ${BASELINE_FILES.sysctl} ${BASELINE_FILES.modules}`;
  return user === "root" ? rm : `sudo -n ${rm}`;
}

export const NETWORK_DIR = "/etc/systemd/network";

/**
 * Host networking onto the fabric, with systemd-networkd (it manages only the NICs named
 * here; the management interface stays as it is). Uplinks carry no IPv4 address: FRR
 * peers over their IPv6 link-local addresses. networkd is told to leave FRR's routes
 * alone. A balancer's front-tier NIC gets its address, and with a gateway, replies from
 * the segment (the VIP) leave through it (policy routing, table 120).
 */
export function renderNetwork(input: NetworkInput): string {
  const files: { path: string; text: string }[] = [
    {
      path: "/etc/systemd/networkd.conf.d/estate.conf",
      text: [
        "# managed by estate: routes and rules that FRR installs are not networkd's to remove",
        "[Network]",
        "ManageForeignRoutes=no",
        "ManageForeignRoutingPolicyRules=no",
      ].join("\n"),
    },
    ...input.uplinks.map((u) => ({
      path: `${NETWORK_DIR}/10-estate-${u.nic}.network`,
      text: [
        `# managed by estate: fabric uplink to ${u.peer}; eBGP unnumbered needs only IPv6 link-local`,
        "[Match]",
        `Name=${u.nic}`,
        "",
        "[Link]",
        "RequiredForOnline=no",
        "",
        "[Network]",
        "DHCP=no",
        "LinkLocalAddressing=ipv6",
        "IPv6AcceptRA=no",
      ].join("\n"),
    })),
  ];
  const f = input.frontend;
  if (f) {
    files.push({
      path: `${NETWORK_DIR}/10-estate-${f.nic}.network`,
      text: [
        `# managed by estate: front-tier segment ${f.segment}`,
        "[Match]",
        `Name=${f.nic}`,
        "",
        "[Network]",
        "DHCP=no",
        "LinkLocalAddressing=no",
        "IPv6AcceptRA=no",
        `Address=${f.address}/${f.prefixLength}`,
        ...(f.gateway
          ? [
              "",
              "[RoutingPolicyRule]",
              `From=${f.segment}`,
              `Table=${FRONTEND_TABLE}`,
              "",
              "[Route]",
              `Destination=${f.segment}`,
              `Table=${FRONTEND_TABLE}`,
              "Scope=link",
              "",
              "[Route]",
              `Gateway=${f.gateway}`,
              `Table=${FRONTEND_TABLE}`,
            ]
          : []),
      ].join("\n"),
    });
  }
  const nics = [...input.uplinks.map((u) => u.nic), ...(f ? [f.nic] : [])];
  return `#!/usr/bin/env bash
# estate host networking: fabric uplinks up (IPv6 link-local only)${f ? ", front-tier address" : ""}.
# Idempotent: files change only when their content does; networkd reloads only then.
set -euo pipefail
export LC_ALL=C
host=${shq(input.host)}

${FILE_FUNCTIONS}

command -v networkctl >/dev/null || { echo "network $host: systemd-networkd (networkctl) is missing" >&2; exit 1; }
${files.map((x) => `put_file 0644 ${shq(x.path)} ${heredoc(x.text)}`).join("\n")}
systemctl enable --now systemd-networkd >/dev/null
if ((\${#changed_files[@]})); then
  networkctl reload
  networkctl reconfigure ${nics.map(shq).join(" ")}
fi

# Every uplink comes up at the inventory's speed (preflight could not check a NIC that was
# down). One array per field, the same index in each; speeds are the renderer's digits.
${bashArray(
  "uplink_nics",
  input.uplinks.map((u) => u.nic),
)}
${bashArray(
  "uplink_speeds_mbps",
  input.uplinks.map((u) => intLiteral("uplink speed", u.speedMbps)),
)}
for i in "\${!uplink_nics[@]}"; do
  nic=\${uplink_nics[i]} speed=\${uplink_speeds_mbps[i]}
  got=-1
  for _ in $(seq 1 30); do
    if [[ "$(cat "/sys/class/net/$nic/carrier" 2>/dev/null || echo 0)" == 1 ]]; then
      got=$(cat "/sys/class/net/$nic/speed" 2>/dev/null || echo -1)
      [[ "$got" =~ ^[0-9]+$ ]] || got=-1
      break
    fi
    sleep 0.5
  done
  if ((got <= 0)); then
    echo "network $host: $nic has no link after 15 s; check the cable to its leaf" >&2
    exit 1
  elif ((got != speed)); then
    echo "network $host: $nic runs at $got Mb/s, the inventory says $speed Mb/s" >&2
    exit 1
  fi
done
echo "network $host: done; changed: \${changed_files[*]:-nothing}"
`;
}

/** Teardown when a node leaves the estate: its fabric and front-tier NICs are released. */
export function renderNetworkDelete(user: string): string {
  const cmd = `sh -c 'rm -f ${NETWORK_DIR}/10-estate-*.network /etc/systemd/networkd.conf.d/estate.conf && networkctl reload'`;
  return user === "root" ? cmd : `sudo -n ${cmd}`;
}
