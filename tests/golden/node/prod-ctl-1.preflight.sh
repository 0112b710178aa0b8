#!/usr/bin/env bash
# estate preflight: read-only. Prints the machine's hardware facts as JSON on stdout and
# fails, naming every mismatch, when the machine differs from the inventory.
set -euo pipefail
export LC_ALL=C

host='ctl-1'
want_sockets=2
want_cores=64
want_memory_gib=512
want_kib=536870912
min_kib=504658657
require_secure_boot=1
require_tpm=1

# The inventory, one array per field and the same index in each. Data only: strings are
# compared, never evaluated; the only numbers are the renderer's own digits.
disk_paths=(
  '/dev/disk/by-id/ata-SAMSUNG_MZ7L3480_S6CTL1OS'
  '/dev/disk/by-id/nvme-SAMSUNG_MZQL21T9HCJR-00A07_S64CTL1N0'
  '/dev/disk/by-id/nvme-SAMSUNG_MZQL21T9HCJR-00A07_S64CTL1N1'
  '/dev/disk/by-id/nvme-SAMSUNG_MZQL21T9HCJR-00A07_S64CTL1N2'
  '/dev/disk/by-id/nvme-SAMSUNG_MZQL21T9HCJR-00A07_S64CTL1N3'
)
disk_classes=(
  'ssd'
  'nvme'
  'nvme'
  'nvme'
  'nvme'
)
disk_uses=(
  'os'
  'spare'
  'spare'
  'spare'
  'spare'
)
# '' where the inventory gives no serial, or no size.
disk_serials=(
  'S6CTL1OS'
  'S64CTL1N0'
  'S64CTL1N1'
  'S64CTL1N2'
  'S64CTL1N3'
)
disk_min_gb=(
  '471'
  '1882'
  '1882'
  '1882'
  '1882'
)
disk_max_gb=(
  '489'
  '1958'
  '1958'
  '1958'
  '1958'
)
nic_names=(
  'ens1f0'
  'ens1f1'
)
nic_speeds_mbps=(
  '100000'
  '100000'
)

problems=()
mismatch() { problems+=("$1"); }
# A number read from the machine, or -1 when it is not one (never evaluated as an expression).
uint_or_minus1() { if [[ "$1" =~ ^[0-9]+$ ]]; then echo "$1"; else echo -1; fi; }

json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\t'/ }
  s=${s//$'\n'/ }
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
for i in "${!disk_paths[@]}"; do
  path=${disk_paths[i]} class=${disk_classes[i]} use=${disk_uses[i]} serial=${disk_serials[i]}
  min_gb=${disk_min_gb[i]} max_gb=${disk_max_gb[i]}
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
    model=$(lsblk -d -n -o MODEL "$dev" | tr -d '\n')
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
for i in "${!nic_names[@]}"; do
  nic=${nic_names[i]} speed=${nic_speeds_mbps[i]}
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
  name=${dir##*/}
  [[ "$name" == lo ]] && continue
  [[ -e "$dir/device" ]] || continue
  speed=$(uint_or_minus1 "$(cat "$dir/speed" 2>/dev/null || echo -1)")
  state=$(cat "$dir/operstate" 2>/dev/null || echo unknown)
  mac=$(cat "$dir/address" 2>/dev/null || echo "")
  nics_json+="${nics_json:+,}{\"name\":$(json_str "$name"),\"speedMbps\":$speed,\"state\":$(json_str "$state"),\"mac\":$(json_str "$mac")}"
done
problems_json=""
for p in "${problems[@]}"; do problems_json+="${problems_json:+,}$(json_str "$p")"; done
disks_json=$(lsblk -J -b -d -e 1,7,11 -o NAME,PATH,MODEL,SIZE,SERIAL,ROTA,TYPE,TRAN)
printf '{"host":%s,"sockets":%d,"cores":%d,"memoryKiB":%d,"secureBoot":%s,"tpmVersion":%s,"os":%s,"kernel":%s,"lsblk":%s,"nics":[%s],"problems":[%s]}\n' \
  "$(json_str "$host")" "$sockets" "$cores" "$mem_kib" "$(json_str "$secure_boot")" "$(json_str "$tpm_version")" \
  "$(json_str "$os")" "$(json_str "$(uname -r)")" "$disks_json" "$nics_json" "$problems_json"

if ((${#problems[@]})); then
  {
    echo "preflight $host: ${#problems[@]} mismatch(es) between this machine and the inventory:"
    for p in "${problems[@]}"; do echo "  - $p"; done
    echo "Fix the hardware, or correct this server's entry in the stack config, then run pulumi up again."
  } >&2
  exit 1
fi
