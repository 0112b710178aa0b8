/**
 * Pure renderers for the cephadm side of the Ceph cluster: host preparation, bootstrap on
 * the first monitor host, the cluster's SSH key on the other hosts, `ceph orch host add`,
 * the service specs (structured data) and waiting for the OSDs. Typed input in, text or
 * objects out; no Pulumi, no config reading (`input.ts` turns the estate into inputs).
 *
 * Every Ceph command runs inside `cephadm shell` on the bootstrap host, so the hosts need
 * no `ceph-common` package and the CLI always matches the pinned image. Inventory text
 * reaches scripts only as single-quoted words.
 */
import * as yaml from "js-yaml";
import { bashArray, shq } from "../shared/shell";

/** Where the estate keeps its Ceph files on the bootstrap host; mounted into `cephadm shell`. */
export const CEPH_ESTATE_DIR = "/etc/ceph/estate";
/** The same folder as `cephadm shell --mount` shows it inside the container. */
export const CEPH_SHELL_DIR = "/mnt/estate";
/** The fsid the program chose, written before bootstrap reads it. */
export const CEPH_FSID_FILE = `${CEPH_ESTATE_DIR}/fsid`;
export const CEPH_SPECS_FILE = "specs.yaml";

export type DeviceClass = "nvme" | "ssd" | "hdd";

export interface CephHost {
  readonly name: string;
  /** The host's fabric loopback: where its daemons listen and cephadm reaches it. */
  readonly address: string;
  /** cephadm host labels (from the estate roles: mon, mgr, osd, rgw). */
  readonly labels: readonly string[];
  /** Raw OSD devices by stable path, with the CRUSH device class each must carry. */
  readonly osdDevices: readonly { readonly path: string; readonly deviceClass: DeviceClass }[];
}

export interface CephadmInput {
  /** The pinned container image, e.g. quay.io/ceph/ceph:v19.2.3. */
  readonly image: string;
  /** `major.minor` of the image: the cephadm package on the hosts must match it. */
  readonly release: string;
  /** The host that bootstraps the cluster and keeps the admin keyring (first monitor). */
  readonly bootstrapHost: string;
  readonly hosts: readonly CephHost[];
  /** The user cephadm logs in as on every host (passwordless sudo; root logins are off). */
  readonly sshUser: string;
  /** The network every monitor address lies in (the fabric's loopback pool). */
  readonly publicNetwork: string;
  /** RGW daemons: their hosts and port (S3 for the cold tier and backups). */
  readonly rgw?: { readonly hosts: readonly string[]; readonly port: number };
}

/** The wrapper every Ceph command on the bootstrap host goes through. */
export function cephShell(command: string): string {
  return `cephadm shell --mount ${CEPH_ESTATE_DIR}:${CEPH_SHELL_DIR} -- ${command}`;
}

/**
 * Prepares a Ceph host: podman and lvm2 (the baseline installs them for Ceph roles), the
 * cephadm package of the pinned release, and the image pulled ahead of time. Idempotent.
 */
export function renderHostPrep(input: CephadmInput, host: string): string {
  // The bootstrap host also runs the cluster configuration: the ceph CLI of the cluster's
  // release (from the same package source as cephadm), jq and curl.
  const admin = host === input.bootstrapHost;
  const packages = admin ? ["cephadm", "podman", "lvm2", "ceph-common", "jq", "curl"] : ["cephadm", "podman", "lvm2"];
  return `#!/usr/bin/env bash
# estate ceph: prepare ${host} for cephadm (${input.image}).
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive
image=${shq(input.image)}
release=${shq(input.release)}
${bashArray("packages", packages)}

missing=()
for pkg in "\${packages[@]}"; do
  dpkg-query -W -f='\${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((\${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "\${missing[@]}" >/dev/null
  echo "changed: installed \${missing[*]}"
fi

# cephadm must belong to the image's release: an older cephadm cannot run a newer cluster.
have=$(cephadm version 2>/dev/null | sed -n 's/.*ceph version \\([0-9]*\\.[0-9]*\\).*/\\1/p' | head -n1)
if [[ -z "$have" ]]; then
  have=$(dpkg-query -W -f='\${Version}' cephadm | sed -n 's/^\\([0-9]*:\\)\\{0,1\\}\\([0-9]*\\.[0-9]*\\).*/\\2/p')
fi
if [[ "$have" != "$release" ]]; then
  echo "estate ceph: ${host} has cephadm $have, the cluster runs $release ($image); add a package source with cephadm $release (or its mirror) and run again" >&2
  exit 1
fi
${
  admin
    ? `cli=$(dpkg-query -W -f='\${Version}' ceph-common | sed -n 's/^\\([0-9]*:\\)\\{0,1\\}\\([0-9]*\\.[0-9]*\\).*/\\2/p')
if [[ "$cli" != "$release" ]]; then
  echo "estate ceph: ${host} has ceph-common $cli, the cluster runs $release; install ceph-common $release from the same source as cephadm" >&2
  exit 1
fi
`
    : ""
}
if ! podman image exists "$image"; then
  cephadm --image "$image" pull >/dev/null
  echo "changed: pulled $image"
fi
`;
}

/**
 * Bootstraps the cluster on the first monitor host, once. The fsid comes from the file
 * the program wrote; a host that already runs this fsid is left alone, a host that runs
 * another cluster fails. No dashboard (it would print a password), no cephadm monitoring
 * stack (the estate's Prometheus scrapes the manager), admin keyring on this host only.
 */
export function renderBootstrap(input: CephadmInput): string {
  const host = input.hosts.find((h) => h.name === input.bootstrapHost);
  if (!host) throw new Error(`renderBootstrap: bootstrap host ${input.bootstrapHost} is not a Ceph host`);
  return `#!/usr/bin/env bash
# estate ceph: bootstrap the cluster on ${host.name} (first monitor), once.
set -euo pipefail
export LC_ALL=C
image=${shq(input.image)}
mon_ip=${shq(host.address)}
public_network=${shq(input.publicNetwork)}
ssh_user=${shq(input.sshUser)}
fsid=$(cat ${shq(CEPH_FSID_FILE)})
if [[ ! "$fsid" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]; then
  echo "estate ceph: ${CEPH_FSID_FILE} does not hold a UUID" >&2
  exit 1
fi

if [[ -d "/var/lib/ceph/$fsid" ]]; then
  : # this cluster already runs here: nothing to do
else
  for d in /var/lib/ceph/*-*-*-*-*; do
    if [[ -d "$d" ]]; then
      echo "estate ceph: ${host.name} already runs cluster $(basename "$d"), not $fsid; refusing to bootstrap a second one" >&2
      exit 1
    fi
  done
  cephadm --image "$image" bootstrap \\
    --fsid "$fsid" \\
    --mon-ip "$mon_ip" \\
    --skip-monitoring-stack \\
    --skip-dashboard \\
    --skip-firewalld \\
    --allow-fqdn-hostname \\
    --ssh-user "$ssh_user" \\
    --output-dir /etc/ceph >/dev/null
  echo "changed: bootstrapped cluster $fsid on $mon_ip"
fi

current=$(${cephShell("ceph config get mon public_network")} 2>/dev/null | tr -d '[:space:]')
if [[ "$current" != "$public_network" ]]; then
  ${cephShell('ceph config set mon public_network "$public_network"')}
  echo "changed: mon public_network $current -> $public_network"
fi
# Only the bootstrap host keeps the admin keyring: no other host gets the _admin label.
`;
}

/** Prints the cluster's SSH public key (stdout); read-only. */
export function renderReadPublicKey(): string {
  return `#!/usr/bin/env bash
set -euo pipefail
${cephShell("ceph cephadm get-pub-key")}
`;
}

/**
 * Authorizes the cluster's SSH public key (stdin) for the estate's SSH user on a Ceph
 * host, once: cephadm logs in as that user and uses its passwordless sudo (root logins
 * stay off). The key is checked to be one OpenSSH public key line before it is written.
 */
export function renderAuthorizeKey(user: string): string {
  return `set -euo pipefail
user=${shq(user)}
key=$(head -c 16384)
key=\${key%$'\\n'}
if [[ ! "$key" =~ ^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))\\ [A-Za-z0-9+/]+=*(\\ [A-Za-z0-9@._-]+)?$ ]]; then
  echo "estate ceph: the cluster key is not one OpenSSH public key line" >&2
  exit 1
fi
home=$(getent passwd "$user" | cut -d: -f6)
if [[ -z "$home" || ! -d "$home" ]]; then
  echo "estate ceph: user $user has no home folder for the cluster key" >&2
  exit 1
fi
install -d -m 0700 -o "$user" "$home/.ssh"
keys="$home/.ssh/authorized_keys"
[[ -f "$keys" ]] || install -m 0600 -o "$user" /dev/null "$keys"
if ! grep -qxF -- "$key" "$keys"; then
  printf '%s\\n' "$key" >>"$keys"
  echo "changed: authorized the Ceph cluster key for $user"
fi`;
}

/**
 * Adds one host to the orchestrator (run on the bootstrap host), with its labels; a host
 * already known only gets missing labels. Independent of every other host's add.
 */
export function renderHostAdd(host: CephHost): string {
  return `#!/usr/bin/env bash
# estate ceph: ${host.name} in the orchestrator, with labels ${host.labels.join(", ")}.
set -euo pipefail
export LC_ALL=C
host=${shq(host.name)}
addr=${shq(host.address)}
${bashArray("labels", [...host.labels])}
known=$(${cephShell("ceph orch host ls --format json")})
if ! jq -e --arg h "$host" 'any(.[]; .hostname == $h)' <<<"$known" >/dev/null; then
  ${cephShell('ceph orch host add "$host" "$addr"')} >/dev/null
  echo "changed: added host $host ($addr)"
  known=$(${cephShell("ceph orch host ls --format json")})
fi
for label in "\${labels[@]}"; do
  if ! jq -e --arg h "$host" --arg l "$label" 'any(.[]; .hostname == $h and ((.labels // []) | index($l)))' <<<"$known" >/dev/null; then
    ${cephShell('ceph orch host label add "$host" "$label"')} >/dev/null
    echo "changed: label $label on $host"
  fi
done
`;
}

/** One cephadm service spec, as `ceph orch apply -i` reads it. */
export type CephadmSpec = Record<string, unknown> & { readonly service_type: string };

/**
 * The service specs: monitors and managers on the hosts with those labels, one OSD spec
 * per host selecting its raw devices by stable path with their device class (the OS disk
 * is never listed), and RGW on its hosts. Sorted for a stable text.
 */
export function cephadmSpecs(input: CephadmInput): CephadmSpec[] {
  const withLabel = (l: string) =>
    input.hosts
      .filter((h) => h.labels.includes(l))
      .map((h) => h.name)
      .sort();
  const specs: CephadmSpec[] = [
    { service_type: "mon", placement: { hosts: withLabel("mon") } },
    { service_type: "mgr", placement: { hosts: withLabel("mgr") } },
  ];
  for (const h of [...input.hosts].sort((a, b) => a.name.localeCompare(b.name))) {
    if (h.osdDevices.length === 0) continue;
    specs.push({
      service_type: "osd",
      service_id: `estate-${h.name}`,
      placement: { hosts: [h.name] },
      spec: {
        objectstore: "bluestore",
        data_devices: {
          paths: h.osdDevices.map((d) => ({ path: d.path, crush_device_class: d.deviceClass })),
        },
      },
    });
  }
  if (input.rgw && input.rgw.hosts.length)
    specs.push({
      service_type: "rgw",
      service_id: "estate",
      placement: { hosts: [...input.rgw.hosts].sort() },
      spec: { rgw_frontend_port: input.rgw.port },
    });
  return specs;
}

/** The specs as one multi-document YAML text, keys sorted. */
export function renderSpecs(specs: readonly CephadmSpec[]): string {
  return specs.map((s) => yaml.dump(s, { sortKeys: true, noRefs: true, lineWidth: -1 })).join("---\n");
}

/**
 * Applies the specs file (on the bootstrap host) and waits, bounded, until every OSD the
 * specs select is up and in: the cluster configuration needs them for its pools.
 */
export function renderApplySpecs(expectedOsds: number, timeoutSeconds = 1800): string {
  return `#!/usr/bin/env bash
set -euo pipefail
export LC_ALL=C
expected=${String(Math.trunc(expectedOsds))}
${cephShell(`ceph orch apply -i ${CEPH_SHELL_DIR}/${CEPH_SPECS_FILE}`)} >/dev/null
deadline=$((SECONDS + ${String(Math.trunc(timeoutSeconds))}))
while :; do
  stat=$(${cephShell("ceph osd stat --format json")})
  up=$(jq -r '.num_up_osds' <<<"$stat")
  in=$(jq -r '.num_in_osds' <<<"$stat")
  if [[ "$up" =~ ^[0-9]+$ && "$in" =~ ^[0-9]+$ ]] && ((up >= expected && in >= expected)); then break; fi
  if ((SECONDS > deadline)); then
    echo "estate ceph: $up of $expected OSDs up, $in in, after ${String(Math.trunc(timeoutSeconds))} s; see: cephadm shell -- ceph orch ps --daemon-type osd" >&2
    exit 1
  fi
  sleep 10
done
`;
}
