#!/bin/bash
# Enable FRR's bgpd and bfdd (estate fabric). Idempotent.
set -euo pipefail
name='ctl-1'
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
  if ! grep -q "^${d}=yes$" "$daemons"; then
    if grep -q "^${d}=" "$daemons"; then
      sed -i "s/^${d}=.*/${d}=yes/" "$daemons"
    else
      echo "${d}=yes" >>"$daemons"
    fi
    changed=1
  fi
done
systemctl enable --quiet frr
if [[ "$changed" -eq 1 ]]; then
  systemctl restart frr
elif ! systemctl is-active --quiet frr; then
  systemctl start frr
fi
