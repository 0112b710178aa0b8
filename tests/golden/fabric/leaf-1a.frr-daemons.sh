#!/bin/bash
# Enable FRR's bgpd and bfdd (estate fabric). Idempotent.
set -euo pipefail
name='leaf-1a'
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
cat >/etc/sysctl.d/60-estate-fabric.conf <<'EOF'
net.ipv4.ip_forward = 1
net.ipv6.conf.all.forwarding = 1
net.ipv4.fib_multipath_hash_policy = 1
net.ipv6.fib_multipath_hash_policy = 1
EOF
sysctl -q -p /etc/sysctl.d/60-estate-fabric.conf
systemctl enable --quiet frr
if [[ "$changed" -eq 1 ]]; then
  systemctl restart frr
elif ! systemctl is-active --quiet frr; then
  systemctl start frr
fi
