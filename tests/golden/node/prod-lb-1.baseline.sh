#!/usr/bin/env bash
# estate OS baseline: time, kernel parameters, sshd, packages, name.
# Idempotent: a second run changes nothing and restarts nothing.
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
host='lb-1'

changed_files=()
put_file() {
  local mode=$1 path=$2 tmp
  mkdir -p "$(dirname "$path")"
  tmp=$(mktemp "$path.estate.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"
  if [[ -f "$path" ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    return 0
  fi
  if [[ -f "$path" ]]; then cp -p "$path" "$path.estate-prev"; else rm -f "$path.estate-prev"; fi
  mv -f "$tmp" "$path"
  changed_files+=("$path")
}
changed() {
  local p
  for p in "${changed_files[@]}"; do [[ "$p" == "$1" ]] && return 0; done
  return 1
}
restore_file() {
  if [[ -f "$1.estate-prev" ]]; then mv -f "$1.estate-prev" "$1"; else rm -f "$1"; fi
}

command -v apt-get >/dev/null || { echo "baseline $host: apt-get not found; estate nodes run Debian or Ubuntu" >&2; exit 1; }

# The node exporter's flags, in place before its package is installed (its first start uses them).
put_file 0644 '/etc/systemd/system/prometheus-node-exporter.service.d/estate.conf' <<'ESTATE_EOF'
# estate: node exporter on the loopback, port 9100, textfile collector /var/lib/prometheus/node-exporter. Managed by estate; local edits are overwritten.
# The flags are here; /etc/default/prometheus-node-exporter (ARGS) is not read.
[Unit]
# It listens on the host's loopback /32, which FRR puts on lo: after FRR, and retried until it is there.
After=frr.service
StartLimitIntervalSec=0

[Service]
EnvironmentFile=
ExecStart=
ExecStart=/usr/bin/prometheus-node-exporter --web.listen-address=10.255.0.64:9100 --collector.disable-defaults --collector.conntrack --collector.cpu --collector.diskstats --collector.edac --collector.filesystem --collector.loadavg --collector.meminfo --collector.netdev --collector.os --collector.pressure --collector.stat --collector.textfile --collector.time --collector.timex --collector.uname --collector.vmstat --collector.textfile.directory=/var/lib/prometheus/node-exporter
Restart=always
RestartSec=5s
ESTATE_EOF
if changed '/etc/systemd/system/prometheus-node-exporter.service.d/estate.conf'; then systemctl daemon-reload; fi

# Packages (installed only when missing).
packages=(
  'chrony'
  'curl'
  'ethtool'
  'frr'
  'frr-pythontools'
  'iproute2'
  'jq'
  'keepalived'
  'libnginx-mod-stream'
  'lsb-release'
  'nftables'
  'nginx'
  'openssh-server'
  'openssl'
  'prometheus-node-exporter'
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Host name, and the host's own name in /etc/hosts (not Debian's 127.0.1.1 alias, which
# Kubernetes and Ceph would advertise).
put_file 0644 /etc/hostname <<<"$host"
if [[ "$(hostname)" != "$host" ]]; then hostname "$host"; fi
hosts_new=$(mktemp)
sed -e '/^# BEGIN estate$/,/^# END estate$/d' -e '/^127\.0\.1\.1[[:space:]]/d' /etc/hosts >"$hosts_new"
cat >>"$hosts_new" <<'ESTATE_EOF'
# BEGIN estate
10.255.0.64 lb-1.prod.estate.internal lb-1
# END estate
ESTATE_EOF
put_file 0644 /etc/hosts <"$hosts_new"
rm -f "$hosts_new"

# Time: the zone, and chrony against the estate's servers only.
zone=/usr/share/zoneinfo/'UTC'
[[ -e "$zone" ]] || { echo "baseline $host: time zone $zone is missing (package tzdata)" >&2; exit 1; }
if [[ "$(readlink -f /etc/localtime)" != "$(readlink -f "$zone")" ]]; then ln -sf "$zone" /etc/localtime; fi
put_file 0644 /etc/chrony/chrony.conf <<'ESTATE_EOF'
# managed by estate
server 10.10.0.250 iburst
server 10.10.0.251 iburst
driftfile /var/lib/chrony/chrony.drift
makestep 1.0 3
rtcsync
leapsectz right/UTC
logdir /var/log/chrony
ESTATE_EOF
if changed /etc/chrony/chrony.conf; then systemctl restart chrony; fi
systemctl enable --now chrony >/dev/null 2>&1

# Kernel modules and parameters.
put_file 0644 /etc/modules-load.d/estate.conf <<'ESTATE_EOF'
nf_conntrack
ESTATE_EOF
modprobe nf_conntrack
put_file 0644 /etc/sysctl.d/90-estate.conf <<'ESTATE_EOF'
# managed by estate
# reverse-path filtering: loose (2); never 0
net.ipv4.conf.all.rp_filter = 2
net.ipv4.conf.default.rp_filter = 2
net.ipv4.ip_forward = 0
net.ipv6.conf.all.forwarding = 0
net.netfilter.nf_conntrack_max = 1048576
fs.inotify.max_user_instances = 8192
fs.inotify.max_user_watches = 1048576
# ECMP over both uplinks by flow (addresses and ports), not only by address pair
net.ipv4.fib_multipath_hash_policy = 1
net.ipv6.fib_multipath_hash_policy = 1
net.ipv4.ip_nonlocal_bind = 1
ESTATE_EOF
sysctl -q -p /etc/sysctl.d/90-estate.conf

# sshd: keys only, validated before reload; a config sshd rejects is rolled back.
if ! grep -Eq '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config\.d/\*\.conf' /etc/ssh/sshd_config; then
  echo "baseline $host: /etc/ssh/sshd_config does not include sshd_config.d/*.conf; add the Include line first" >&2
  exit 1
fi
put_file 0644 /etc/ssh/sshd_config.d/00-estate-hardening.conf <<'ESTATE_EOF'
# managed by estate. sshd keeps the first value it reads, and Debian's sshd_config
# includes sshd_config.d/*.conf first, so this file's name sorts first.
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin no
PubkeyAuthentication yes
X11Forwarding no
MaxAuthTries 3
LoginGraceTime 30
ESTATE_EOF
if changed /etc/ssh/sshd_config.d/00-estate-hardening.conf; then
  mkdir -p /run/sshd
  if ! sshd -t; then
    restore_file /etc/ssh/sshd_config.d/00-estate-hardening.conf
    echo "baseline $host: sshd rejected the hardened config; restored the previous one" >&2
    exit 1
  fi
  systemctl reload ssh
fi
# No password for root: keys only.
if [[ "$(passwd -S root | awk '{print $2}')" != L ]]; then passwd -l root >/dev/null; fi

# Monitoring: the node exporter on the loopback (it retries until FRR has put the address on
# lo); other estate parts write their metrics into its textfile collector.
install -d -m 0755 '/var/lib/prometheus/node-exporter'
systemctl enable --quiet 'prometheus-node-exporter'
if changed '/etc/systemd/system/prometheus-node-exporter.service.d/estate.conf'; then
  systemctl restart 'prometheus-node-exporter'
elif ! systemctl is-active --quiet 'prometheus-node-exporter'; then
  systemctl start 'prometheus-node-exporter'
fi

echo "baseline $host: done; changed: ${changed_files[*]:-nothing}"
