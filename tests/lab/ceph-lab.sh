#!/usr/bin/env bash
# A real mini Ceph from Debian's packages, for tests/lab/ceph.test.ts (facts in
# ../shared/notes/ceph-lab.md). Everything lives under one directory DIR and is meant to run
# inside a network namespace the test created (the test adds the planned hosts' loopback
# addresses there):
#
#   ceph-lab.sh up DIR MGR_NAME RGW_NAME RGW_ENDPOINT HOST:CLASS...
#   ceph-lab.sh down DIR
#
# `up` starts 1 mon (127.0.0.1), 1 mgr named MGR_NAME (cephadm names a manager
# `<host>.<suffix>`; the lab does the same, after the planned host), one BlueStore OSD per
# HOST:CLASS on a loop device over a sparse file, and, when RGW_NAME is not '-', radosgw
# `client.rgw.RGW_NAME` on RGW_ENDPOINT (ADDR:PORT). Each OSD's CRUSH location is
# `root=default host=HOST` (the planned host), and its loop device's rotational flag is that of
# the class (hdd rotational, nvme/ssd not): the device property a real disk reports, and the
# only per-device fact a loop device can carry. OSDs boot with the class Ceph derives from it
# (hdd or ssd); setting the model's classes is the configuration script's job.
#
# `down` stops only the daemons whose pid file is in DIR and whose command line names
# DIR/ceph.conf, detaches the loop devices backed by DIR's files, and removes DIR.
set -euo pipefail

die() {
  echo "ceph-lab: $*" >&2
  exit 1
}

cmd=${1:-}
D=${2:-}
[[ -n "$cmd" && -n "$D" ]] || die "usage: $0 up|down DIR ..."
CONF="$D/ceph.conf"

ceph_() { ceph --conf "$CONF" "$@"; }

# Our daemons: pid files under DIR whose process still runs with DIR/ceph.conf.
our_pids() {
  local f pid
  for f in "$D"/run/*.pid; do
    [[ -f "$f" ]] || continue
    pid=$(<"$f")
    [[ "$pid" =~ ^[0-9]+$ ]] || continue
    if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$CONF"; then
      echo "$pid"
    fi
  done
}

down() {
  local pids i f loop
  [[ -d "$D" ]] || return 0
  mapfile -t pids < <(our_pids)
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for ((i = 0; i < 30; i++)); do
      mapfile -t pids < <(our_pids)
      ((${#pids[@]})) || break
      sleep 0.1
    done
    mapfile -t pids < <(our_pids)
    if ((${#pids[@]})); then kill -KILL "${pids[@]}" 2>/dev/null || true; fi
    for ((i = 0; i < 50; i++)); do
      mapfile -t pids < <(our_pids)
      ((${#pids[@]})) || break
      sleep 0.1
    done
  fi
  for f in "$D"/osd-*.img; do
    [[ -f "$f" ]] || continue
    while read -r loop; do
      [[ -n "$loop" ]] && losetup -d "$loop"
    done < <(losetup -j "$f" | cut -d: -f1)
  done
  rm -rf "$D"
}

wait_for() {
  local what=$1 tries=$2
  shift 2
  local i
  for ((i = 0; i < tries; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "timed out waiting for $what"
}

up() {
  local mgr=$1 rgw=$2 rgw_endpoint=$3
  shift 3
  local specs=("$@")
  ((${#specs[@]} > 0)) || die "no OSDs given"
  mkdir -p "$D/run" "$D/log" "$D/crash" "$D/mon.a" "$D/mgr.$mgr"
  local fsid i host class
  fsid=$(cat /proc/sys/kernel/random/uuid)
  {
    cat <<EOF
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:3300,v1:127.0.0.1:6789]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_port_min = 6800
ms_bind_port_max = 7100
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
run_dir = $D/run
pid_file = $D/run/\$type.\$id.pid
log_file = $D/log/\$type.\$id.log
crash_dir = $D/crash
# lab tuning (notes, section 2): faster map changes, small default pools, no disk-space warnings
paxos_propose_interval = 0.1
mon_data_avail_warn = 2
osd_pool_default_pg_num = 8
mon_max_pg_per_osd = 500
mon_allow_pool_size_one = false
osd_memory_target = 1073741824
# a loaded 2-core CI machine delays OSD heartbeats past Ceph's 1 s warning (OSD_SLOW_PING_TIME_*,
# averaged over up to 15 min): machine latency, not placement; the lab asserts the latter
mon_warn_on_slow_ping_time = 30000
[mon]
mon_data = $D/mon.\$id
[mgr]
mgr_data = $D/mgr.\$id
[osd]
osd_data = $D/osd.\$id
osd_objectstore = bluestore
bluestore_fsck_on_mkfs = false
[client.admin]
keyring = $D/keyring
EOF
    for i in "${!specs[@]}"; do
      host=${specs[$i]%%:*}
      printf '[osd.%d]\ncrush_location = root=default host=%s\n' "$i" "$host"
    done
    if [[ "$rgw" != "-" ]]; then
      printf '[client.rgw.%s]\nkeyring = %s/rgw.keyring\nrgw_frontends = beast endpoint=%s\nrgw_data = %s/rgw\n' \
        "$rgw" "$D" "$rgw_endpoint" "$D"
    fi
  } >"$CONF"

  ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$D/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$D/mon.keyring" --import-keyring "$D/keyring" >/dev/null
  monmaptool --create --fsid "$fsid" --addv a '[v2:127.0.0.1:3300,v1:127.0.0.1:6789]' "$D/monmap" >/dev/null
  ceph-mon --conf "$CONF" --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.keyring" >/dev/null 2>&1
  ceph-mon --conf "$CONF" -i a </dev/null >>"$D/log/mon.a.out" 2>&1
  wait_for "the monitor" 120 ceph_ mon stat

  ceph_ auth get-or-create "mgr.$mgr" mon 'allow profile mgr' osd 'allow *' mds 'allow *' -o "$D/mgr.$mgr/keyring"
  ceph-mgr --conf "$CONF" -i "$mgr" </dev/null >>"$D/log/mgr.out" 2>&1

  # OSDs: ids are handed out in order, matching the [osd.N] sections above.
  local uuid secret id img loop pids=()
  for i in "${!specs[@]}"; do
    class=${specs[$i]#*:}
    img="$D/osd-$i.img"
    truncate -s 10G "$img"
    loop=$(losetup --find --show "$img")
    if [[ "$class" == "hdd" ]]; then echo 1 >"/sys/block/${loop#/dev/}/queue/rotational"; else echo 0 >"/sys/block/${loop#/dev/}/queue/rotational"; fi
    uuid=$(cat /proc/sys/kernel/random/uuid)
    secret=$(ceph-authtool --gen-print-key)
    id=$(printf '{"cephx_secret": "%s"}' "$secret" | ceph_ osd new "$uuid" -i -)
    [[ "$id" == "$i" ]] || die "osd new gave id $id, expected $i"
    mkdir -p "$D/osd.$id"
    ln -s "$loop" "$D/osd.$id/block"
    ceph-authtool --create-keyring "$D/osd.$id/keyring" -n "osd.$id" --add-key "$secret" >/dev/null
    ceph-osd --conf "$CONF" -i "$id" --mkfs --osd-uuid "$uuid" </dev/null >>"$D/log/osd-mkfs.$id.out" 2>&1 &
    echo $! >"$D/run/mkfs.osd.$id.pid"
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || die "mkfs of osd.$i failed (see $D/log/osd-mkfs.$i.out)"
    rm -f "$D/run/mkfs.osd.$i.pid"
  done
  for i in "${!specs[@]}"; do
    ceph-osd --conf "$CONF" -i "$i" </dev/null >>"$D/log/osd.$i.out" 2>&1
  done

  if [[ "$rgw" != "-" ]]; then
    mkdir -p "$D/rgw"
    ceph_ auth get-or-create "client.rgw.$rgw" mon 'allow rw' osd 'allow rwx' -o "$D/rgw.keyring"
    radosgw --conf "$CONF" -n "client.rgw.$rgw" </dev/null >>"$D/log/rgw.out" 2>&1
  fi
}

case "$cmd" in
  up)
    shift 2
    trap 'rc=$?; if ((rc != 0)); then down; fi' EXIT
    up "$@"
    trap - EXIT
    ;;
  down) down ;;
  *) die "unknown command $cmd" ;;
esac
