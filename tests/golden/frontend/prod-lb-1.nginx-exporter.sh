#!/usr/bin/env bash
# estate front tier on lb-1: the Nginx exporter on the loopback. Idempotent.
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
name='lb-1'

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

command -v apt-get >/dev/null || { echo "frontend $name: apt-get not found" >&2; exit 1; }
put_file 0644 '/etc/systemd/system/prometheus-nginx-exporter.service.d/estate.conf' <<'ESTATE_EOF'
# estate: Nginx exporter (stub_status on 127.0.0.1:8081) on the loopback, port 9113. Managed by estate; local edits are overwritten.
# The flags are here; /etc/default/prometheus-nginx-exporter (ARGS) is not read.
[Unit]
# It listens on the host's loopback /32, which FRR puts on lo: after FRR, and retried until it is there.
After=frr.service
StartLimitIntervalSec=0

[Service]
EnvironmentFile=
ExecStart=
ExecStart=/usr/bin/prometheus-nginx-exporter -web.listen-address=10.255.0.64:9113 -nginx.scrape-uri=http://127.0.0.1:8081/nginx_status -nginx.retries=60
Restart=always
RestartSec=5s
ESTATE_EOF
if changed '/etc/systemd/system/prometheus-nginx-exporter.service.d/estate.conf'; then systemctl daemon-reload; fi
packages=(
  'prometheus-nginx-exporter'
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
systemctl enable --quiet 'prometheus-nginx-exporter'
if changed '/etc/systemd/system/prometheus-nginx-exporter.service.d/estate.conf'; then
  systemctl restart 'prometheus-nginx-exporter'
elif ! systemctl is-active --quiet 'prometheus-nginx-exporter'; then
  systemctl start 'prometheus-nginx-exporter'
fi

loopback='10.255.0.64'
url='http://10.255.0.64:9113/metrics'
if ip -4 -o address show dev lo | grep -qF " $loopback/"; then
  metrics=""
  for _ in $(seq 1 30); do
    metrics=$(curl -fsS -m 5 "$url" 2>/dev/null) || metrics=""
    [[ "$metrics" == *$'\n'"nginx_up 1"$'\n'* ]] && break
    sleep 1
  done
  [[ "$metrics" == *$'\n'"nginx_up 1"$'\n'* ]] || { echo "frontend $name: the Nginx exporter at $url does not report nginx_up 1 within 30 s" >&2; exit 1; }
else
  echo "frontend $name: $loopback is not on lo yet (the fabric puts it there); the exporter starts once it is"
fi
echo "frontend $name: Nginx exporter done; changed: ${changed_files[*]:-nothing}"
