#!/bin/bash
# estate front tier on lb-1: keepalived's notify script. Managed by estate; local edits are overwritten.
# Called as: /etc/keepalived/estate-vrrp-notify.sh TYPE NAME STATE PRIORITY. The arguments are data: checked
# against fixed values, never evaluated. Writes the VRRP state into the node exporter's
# textfile collector atomically, and logs one tagged line.
set -euo pipefail
export LC_ALL=C
dir='/var/lib/prometheus/node-exporter'
file='estate_vrrp.prom'
instance='frontend_51'

log() { logger -t estate-frontend -- "$*" 2>/dev/null || true; }
# An argument as the log shows it: at most 64 characters, quoted so nothing in it acts.
shown() { printf '%q' "${1:0:64}"; }
reject() {
  log "notify rejected: $1"
  echo "estate-vrrp-notify: $1" >&2
  exit 2
}

(($# == 4)) || reject "want 4 arguments (TYPE NAME STATE PRIORITY), got $#"
type=$1 name=$2 state=$3 priority=$4
[[ "$type" == INSTANCE ]] || reject "type $(shown "$type") is not INSTANCE"
[[ "$name" == "$instance" ]] || reject "instance $(shown "$name") is not $instance"
case "$state" in
  MASTER) value=2 ;;
  BACKUP) value=1 ;;
  FAULT) value=3 ;;
  # Not running, or not decided yet: INIT. keepalived sends STOP (and DELETED when a reload
  # removes the instance); the unit's ExecStartPre sends INIT.
  INIT | STOP | DELETED) value=0 ;;
  *) reject "state $(shown "$state") is not one of MASTER BACKUP FAULT INIT STOP DELETED" ;;
esac
[[ "$priority" =~ ^[0-9]{1,3}$ ]] && ((10#$priority <= 255)) || reject "priority $(shown "$priority") is not a number 0-255"
now=$(date +%s)

mkdir -p "$dir"
tmp=$(mktemp "$dir/.$file.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  printf '%s\n' '# HELP estate_vrrp_state VRRP state of the balancer'\''s instance: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT (keepalived notify).' '# TYPE estate_vrrp_state gauge'
  printf '%s{%s="%s"} %s\n' 'estate_vrrp_state' 'vrrp_instance' "$instance" "$value"
  printf '%s\n' '# HELP estate_vrrp_last_transition_timestamp_seconds Unix time of the instance'\''s last VRRP state change (keepalived notify).' '# TYPE estate_vrrp_last_transition_timestamp_seconds gauge'
  printf '%s{%s="%s"} %s\n' 'estate_vrrp_last_transition_timestamp_seconds' 'vrrp_instance' "$instance" "$now"
} >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$dir/$file"
log "$type $name $state $priority"
