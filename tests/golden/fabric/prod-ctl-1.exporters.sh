#!/usr/bin/env bash
# estate fabric: the exporters of server ctl-1 on its loopback. Idempotent: a second run changes
# and restarts nothing.
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
name='ctl-1'

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

command -v apt-get >/dev/null || { echo "exporters $name: apt-get not found; the estate's switches and servers run Debian-based systems (the exporters are Debian packages)" >&2; exit 1; }

# Flags first: the packages' own first start already uses them.
put_file 0644 '/etc/systemd/system/prometheus-frr-exporter.service.d/estate.conf' <<'ESTATE_EOF'
# estate: FRR exporter (BGP sessions, BFD peers) on the loopback, port 9342. Managed by estate; local edits are overwritten.
# The flags are here; /etc/default/prometheus-frr-exporter (ARGS) is not read.
[Unit]
# It listens on the host's loopback /32, which FRR puts on lo: after FRR, and retried until it is there.
After=frr.service
StartLimitIntervalSec=0

[Service]
EnvironmentFile=
ExecStart=
ExecStart=/usr/bin/prometheus-frr-exporter --web.listen-address=10.255.0.66:9342 --collector.bgp --collector.bfd --no-collector.ospf
Restart=always
RestartSec=5s
ESTATE_EOF
if changed '/etc/systemd/system/prometheus-frr-exporter.service.d/estate.conf'; then systemctl daemon-reload; fi

packages=(
  'curl'
  'prometheus-frr-exporter'
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

systemctl enable --quiet 'prometheus-frr-exporter'
if changed '/etc/systemd/system/prometheus-frr-exporter.service.d/estate.conf'; then
  systemctl restart 'prometheus-frr-exporter'
elif ! systemctl is-active --quiet 'prometheus-frr-exporter'; then
  systemctl start 'prometheus-frr-exporter'
fi

# The FRR exporter answers on the loopback, with its BGP and BFD collectors working.
url='http://10.255.0.66:9342/metrics'
metrics=""
for _ in $(seq 1 30); do
  metrics=$(curl -fsS -m 5 "$url" 2>/dev/null) || metrics=""
  if [[ "$metrics" == *'frr_collector_up{collector="bfd"} 1'* && "$metrics" == *'frr_collector_up{collector="bgp"} 1'* ]]; then
    echo "exporters $name: done; changed: ${changed_files[*]:-nothing}"
    exit 0
  fi
  sleep 1
done
echo "exporters $name: the FRR exporter at $url does not report its BGP and BFD collectors up within 30 s:" >&2
grep '^frr_collector_up' <<<"$metrics" >&2 || echo "(no answer)" >&2
exit 1
