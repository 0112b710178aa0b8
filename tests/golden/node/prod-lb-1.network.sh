#!/usr/bin/env bash
# estate host networking: fabric uplinks up (IPv6 link-local only), front-tier address.
# Idempotent: files change only when their content does; networkd reloads only then.
set -euo pipefail
export LC_ALL=C
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

command -v networkctl >/dev/null || { echo "network $host: systemd-networkd (networkctl) is missing" >&2; exit 1; }
put_file 0644 '/etc/systemd/networkd.conf.d/estate.conf' <<'ESTATE_EOF'
# managed by estate: routes and rules that FRR installs are not networkd's to remove
[Network]
ManageForeignRoutes=no
ManageForeignRoutingPolicyRules=no
ESTATE_EOF
put_file 0644 '/etc/systemd/network/10-estate-ens1f0.network' <<'ESTATE_EOF'
# managed by estate: fabric uplink to leaf-1a swp1; eBGP unnumbered needs only IPv6 link-local
[Match]
Name=ens1f0

[Link]
RequiredForOnline=no

[Network]
DHCP=no
LinkLocalAddressing=ipv6
IPv6AcceptRA=no
ESTATE_EOF
put_file 0644 '/etc/systemd/network/10-estate-ens1f1.network' <<'ESTATE_EOF'
# managed by estate: fabric uplink to leaf-1b swp1; eBGP unnumbered needs only IPv6 link-local
[Match]
Name=ens1f1

[Link]
RequiredForOnline=no

[Network]
DHCP=no
LinkLocalAddressing=ipv6
IPv6AcceptRA=no
ESTATE_EOF
put_file 0644 '/etc/systemd/network/10-estate-eno1.network' <<'ESTATE_EOF'
# managed by estate: front-tier segment 10.20.0.0/24
[Match]
Name=eno1

[Network]
DHCP=no
LinkLocalAddressing=no
IPv6AcceptRA=no
Address=10.20.0.11/24
ESTATE_EOF
systemctl enable --now systemd-networkd >/dev/null
if ((${#changed_files[@]})); then
  networkctl reload
  networkctl reconfigure 'ens1f0' 'ens1f1' 'eno1'
fi

# Every uplink comes up at the inventory's speed (preflight could not check a NIC that was
# down). One array per field, the same index in each; speeds are the renderer's digits.
uplink_nics=(
  'ens1f0'
  'ens1f1'
)
uplink_speeds_mbps=(
  '100000'
  '100000'
)
for i in "${!uplink_nics[@]}"; do
  nic=${uplink_nics[i]} speed=${uplink_speeds_mbps[i]}
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
echo "network $host: done; changed: ${changed_files[*]:-nothing}"
