/**
 * Pure renderers of the Ceph cluster configuration: typed input in, bash text out; no
 * Pulumi, no config reading (`input.ts` derives the input from the estate model).
 *
 * `renderCephConfigure` is ONE idempotent script, run on the first monitor host where the
 * admin keyring lives. It reaches the cluster the way a host's `ceph`, `rbd` and
 * `radosgw-admin` do: through `CEPH_CONF` (default `/etc/ceph/ceph.conf`), so a lab runs
 * the very same text against another cluster by exporting `CEPH_CONF`. Every step checks
 * before it acts (the Ceph CLI answers EBUSY, EINVAL or a silent no-op to several repeated
 * or changed commands, see ../shared/notes/ceph-lab.md), prints one `changed: ...` line per
 * change and nothing at all when the cluster already matches the model. It never deletes.
 *
 * What it does, in order:
 * 1. OSD device classes set to the model's disk classes (rm-device-class first: a bound
 *    class answers EBUSY to set-device-class).
 * 2. One replicated CRUSH rule per tier, taking `<root>~<class>`, failure domain host. A
 *    rule cannot be edited in place: a rule of the model's name that takes something else
 *    fails the script with the way out, instead of silently keeping the wrong placement.
 * 3. New pools (the manager's, RGW's) land on the default class rule
 *    (`osd_pool_default_crush_rule`).
 * 4. The RBD pools: created, rule, size, min_size, `pg_autoscale_mode on`, `rbd pool init`.
 *    pg_num is the autoscaler's (never enforced).
 * 5. The RGW backup user (the RGW daemons themselves come from cephadm's spec).
 * 6. Every other pool on a rule that takes a plain root (`.mgr` on 17+,
 *    `device_health_metrics` on 16, RGW's pools) is moved onto the default class rule: the
 *    autoscaler ignores pools whose roots overlap, so one plain-root pool disables it.
 * 7. The CSI client's caps: RBD on the RBD pools only (`ceph auth caps` repairs widened caps
 *    and keeps the key).
 * 8. The manager's Prometheus module: per-manager address and port set before the module is
 *    enabled (it binds every address otherwise), re-enabled when they change, and the
 *    active manager's advertised URL verified.
 *
 * How an OSD finds its model disk (device-class repair; a prod OSD host carries nvme and
 * hdd): the OSD's CRUSH host bucket (`ceph osd tree`, cephadm names it after the host) must
 * be a model host with OSD disks, then, in this order:
 *   a. per disk: the OSD's `device_ids` (`<dev>=<VENDOR>_<MODEL>_<SERIAL>`) end with the
 *      disk's `_<serial>`, or its `device_paths` hold the disk's stable path;
 *   b. the host's OSD disks all have one class: that class;
 *   c. the OSD's `rotational` metadata picks the host's one rotational class (hdd) or its
 *      one non-rotational class (nvme or ssd);
 *   otherwise the OSD is reported and the script fails at the end (after all other steps),
 *   unless it never booted (no metadata yet): a later run maps it.
 * OSDs on hosts the model does not list are left alone.
 *
 * Secrets: the CSI key and the S3 keys never reach stdout, stderr or a command line here;
 * `renderCephReadKeys` is the separate command that prints them (as JSON) for a secret
 * output.
 */
import { bashArray, intLiteral, shq } from "../shared/shell";

export type CephDeviceClass = "nvme" | "ssd" | "hdd";

/** A model disk that carries an OSD. */
export interface CephOsdDisk {
  /** The server, and the CRUSH host bucket its OSDs sit in. */
  readonly host: string;
  readonly deviceClass: CephDeviceClass;
  /** Stable path (/dev/disk/by-id/... or by-path/...). */
  readonly path: string;
  /** Drive serial, '' when the inventory gives none. */
  readonly serial: string;
}

export interface CephRule {
  readonly name: string;
  readonly deviceClass: CephDeviceClass;
}

export interface CephPool {
  readonly name: string;
  /** One of the input's rules. */
  readonly rule: string;
  readonly size: number;
  readonly minSize: number;
  /** pg_num at creation; the autoscaler owns it afterwards. */
  readonly pgNum: number;
}

export interface CephManagerEndpoint {
  /** A `ceph-mgr` host: its manager daemons are named `<host>` or `<host>.<suffix>`. */
  readonly host: string;
  /** Where that host's manager serves Prometheus metrics. */
  readonly address: string;
}

export interface CephConfigureInput {
  /** CRUSH root the rules take. @default "default" in input.ts */
  readonly crushRoot: string;
  readonly rules: readonly CephRule[];
  readonly pools: readonly CephPool[];
  /** The class rule for every pool the model does not list, and for new pools. */
  readonly defaultRule: string;
  readonly osdDisks: readonly CephOsdDisk[];
  readonly csi: {
    /** e.g. `client.kubernetes` */
    readonly client: string;
    /** The RBD pools its caps allow. */
    readonly pools: readonly string[];
  };
  readonly prometheus: { readonly port: number; readonly managers: readonly CephManagerEndpoint[] };
  /** The cold tier: the S3 backup user and its bucket; absent without one. */
  /**
   * RBD pools of the estate (named `kube-*`) that the model no longer lists: deleted when
   * true, otherwise kept with their data and reported on stderr every run.
   */
  readonly deleteRemovedPools: boolean;
  readonly rgw?: {
    readonly user: string;
    readonly displayName: string;
    readonly bucket: string;
    /** An RGW S3 endpoint the script creates the bucket through (plain HTTP on the fabric). */
    readonly endpoint: { readonly address: string; readonly port: number };
  };
}

/** The caps of the CSI client: RBD on the given pools, nothing else. */
export function csiCaps(pools: readonly string[]): {
  readonly mon: string;
  readonly osd: string;
  readonly mgr: string;
} {
  const rbd = pools.map((p) => `profile rbd pool=${p}`).join(", ");
  return { mon: "profile rbd", osd: rbd, mgr: rbd };
}

function check(input: CephConfigureInput): void {
  const problems: string[] = [];
  const rules = new Set(input.rules.map((r) => r.name));
  if (!rules.has(input.defaultRule)) problems.push(`defaultRule '${input.defaultRule}' is not one of the rules`);
  for (const p of input.pools) {
    if (!rules.has(p.rule)) problems.push(`pool ${p.name}: rule '${p.rule}' is not one of the rules`);
    if (p.minSize > p.size) problems.push(`pool ${p.name}: minSize ${p.minSize} is more than size ${p.size}`);
  }
  for (const p of input.csi.pools)
    if (!input.pools.some((q) => q.name === p)) problems.push(`csi pool ${p} is not one of the pools`);
  if (problems.length) throw new Error(`ceph configure input:\n- ${problems.join("\n- ")}`);
}

/**
 * jq: one line per OSD on a model host, `id host current wanted how` (tab-separated, '-' for
 * none), from `[osd tree, osd metadata]` and the model's disks ($hosts, $classes, $serials,
 * $paths: one array per field, same index).
 */
export const JQ_CLASS_PLAN = String.raw`def entry_values: split(",") | map(select(length > 0) | split("=") | .[1:] | join("="));
.[0] as $tree | .[1] as $meta
| [range(0; $hosts | length) as $i | {host: $hosts[$i], class: $classes[$i], serial: $serials[$i], path: $paths[$i]}] as $disks
| (reduce ($tree.nodes[] | select(.type == "host")) as $h ({}; reduce ($h.children // [])[] as $c (.; .[$c | tostring] = $h.name))) as $hostOf
| (reduce $meta[] as $m ({}; .[$m.id | tostring] = $m)) as $metaOf
| $tree.nodes[] | select(.type == "osd")
| (.id | tostring) as $id
| ($hostOf[$id] // "") as $host
| [$disks[] | select(.host == $host)] as $hd
| select($hd | length > 0)
| ($metaOf[$id] // {}) as $m
| (($m.device_ids // "") | entry_values) as $devids
| (($m.device_paths // "") | entry_values) as $devpaths
| ([$hd[] | . as $d | select(($d.serial != "" and any($devids[]; . == $d.serial or endswith("_" + $d.serial))) or ($d.path != "" and any($devpaths[]; . == $d.path))) | .class] | unique) as $bydisk
| ($hd | map(.class) | unique) as $hostClasses
| (($m.rotational // $m.bluestore_bdev_rotational // "") | tostring) as $rot
| (if $rot == "1" then $hostClasses | map(select(. == "hdd")) elif $rot == "0" then $hostClasses | map(select(. != "hdd")) else [] end) as $byrot
| (if ($bydisk | length) == 1 then [$bydisk[0], "disk"]
   elif ($hostClasses | length) == 1 then [$hostClasses[0], "host"]
   elif ($byrot | length) == 1 then [$byrot[0], "rotational"]
   elif $metaOf[$id] == null then ["-", "booting"]
   else ["-", "unmapped"] end) as $w
| [$id, $host, (.device_class // "-"), $w[0], $w[1]] | @tsv`;

/** jq: `name id take chooseleaf-type` of rule $n from `osd crush rule dump`, nothing if absent. */
const JQ_RULE = String.raw`.[] | select(.rule_name == $n) | [.rule_name, (.rule_id | tostring), ([.steps[] | select(.op == "take") | .item_name] | join(",")), ([.steps[] | select(.op | startswith("choose")) | .type] | join(","))] | @tsv`;

/** jq: `crush_rule size min_size autoscale apps` of pool $p from `osd pool ls detail`. */
const JQ_POOL = String.raw`.[] | select(.pool_name == $p) | [(.crush_rule | tostring), (.size | tostring), (.min_size | tostring), (.pg_autoscale_mode // "-"), ((.application_metadata // {}) | keys | if length == 0 then "-" else join(",") end)] | @tsv`;

/** jq: `pool rule` of every pool whose rule takes a plain root (no device class), from `[rule dump, pool ls detail]`. */
const JQ_PLAIN_ROOT_POOLS = String.raw`.[0] as $rules | .[1] as $pools
| (reduce $rules[] as $r ({}; .[$r.rule_id | tostring] = $r)) as $byId
| $pools[] | ($byId[.crush_rule | tostring]) as $r
| select(($r == null) or ([$r.steps[] | select(.op == "take") | .item_name | contains("~")] | all | not))
| [.pool_name, ($r.rule_name // (.crush_rule | tostring))] | @tsv`;

export function renderCephConfigure(input: CephConfigureInput): string {
  check(input);
  const caps = csiCaps(input.csi.pools);
  const port = intLiteral("prometheus port", input.prometheus.port);
  return `#!/usr/bin/env bash
# estate: Ceph cluster configuration (components/ceph/render.ts). Runs on the first monitor
# host with the admin keyring. Cluster: $CEPH_CONF, default /etc/ceph/ceph.conf.
# Idempotent by check-before-act: prints one 'changed: ...' line per change, nothing when the
# cluster matches the model. Never deletes anything.
set -euo pipefail
export LC_ALL=C
export CEPH_CONF="\${CEPH_CONF:-/etc/ceph/ceph.conf}"

# The model. Data only: single-quoted words, one array per field (same index in each);
# compared as strings, never evaluated.
crush_root=${shq(input.crushRoot)}
failure_domain='host'
${bashArray(
  "rule_names",
  input.rules.map((r) => r.name),
)}
${bashArray(
  "rule_classes",
  input.rules.map((r) => r.deviceClass),
)}
default_rule=${shq(input.defaultRule)}
delete_removed_pools=${shq(input.deleteRemovedPools ? "1" : "0")}
${bashArray(
  "pool_names",
  input.pools.map((p) => p.name),
)}
${bashArray(
  "pool_rules",
  input.pools.map((p) => p.rule),
)}
${bashArray(
  "pool_sizes",
  input.pools.map((p) => intLiteral(`pool ${p.name} size`, p.size)),
)}
${bashArray(
  "pool_min_sizes",
  input.pools.map((p) => intLiteral(`pool ${p.name} minSize`, p.minSize)),
)}
${bashArray(
  "pool_pg_nums",
  input.pools.map((p) => intLiteral(`pool ${p.name} pgNum`, p.pgNum)),
)}
# OSD disks of the model: host (CRUSH host bucket), class, serial ('' if unknown), stable path.
${bashArray(
  "disk_hosts",
  input.osdDisks.map((d) => d.host),
)}
${bashArray(
  "disk_classes",
  input.osdDisks.map((d) => d.deviceClass),
)}
${bashArray(
  "disk_serials",
  input.osdDisks.map((d) => d.serial),
)}
${bashArray(
  "disk_paths",
  input.osdDisks.map((d) => d.path),
)}
csi_client=${shq(input.csi.client)}
csi_caps_mon=${shq(caps.mon)}
csi_caps_osd=${shq(caps.osd)}
csi_caps_mgr=${shq(caps.mgr)}
prometheus_port=${shq(port)}
${bashArray(
  "mgr_hosts",
  input.prometheus.managers.map((m) => m.host),
)}
${bashArray(
  "mgr_addresses",
  input.prometheus.managers.map((m) => m.address),
)}
rgw_user=${shq(input.rgw?.user ?? "")}
rgw_display_name=${shq(input.rgw?.displayName ?? "")}
rgw_bucket=${shq(input.rgw?.bucket ?? "")}
rgw_url=${shq(input.rgw ? `http://${input.rgw.endpoint.address}:${intLiteral("rgw port", input.rgw.endpoint.port)}` : "")}

# jq programs (code of this script, not data).
jq_class_plan=${shq(JQ_CLASS_PLAN)}
jq_rule=${shq(JQ_RULE)}
jq_pool=${shq(JQ_POOL)}
jq_plain_root_pools=${shq(JQ_PLAIN_ROOT_POOLS)}

die() {
  echo "ceph-configure: $*" >&2
  exit 1
}
say() { echo "changed: $*"; }
# Runs a command that changes the cluster; its chatter is shown only when it fails.
act() {
  local out
  if ! out=$("$@" 2>&1 </dev/null); then
    printf '%s\\n' "$out" >&2
    die "failed: $*"
  fi
}
# ceph ... -f json; bare inf/nan (printed by some Reef builds) read as null.
cj() {
  local out
  out=$(ceph "$@" -f json)
  sed -E 's/([:,[]) *-?(inf|nan)([],}])/\\1null\\3/g' <<<"$out"
}
json_words() { jq -n -c '$ARGS.positional' --args "$@"; }

[[ -r "$CEPH_CONF" ]] || die "cannot read the cluster configuration $CEPH_CONF (set CEPH_CONF)"
for tool in ceph rbd jq; do
  command -v "$tool" >/dev/null || die "$tool is not installed on this host"
done
if [[ -n "$rgw_user" ]]; then
  for tool in radosgw-admin curl; do
    command -v "$tool" >/dev/null || die "$tool is not installed on this host"
  done
fi

# 1. OSD device classes.
tree=$(cj osd tree)
metadata=$(cj osd metadata)
unmapped=()
change_ids=() change_hosts=() change_from=() change_to=()
class_plan=$(printf '%s\\n%s\\n' "$tree" "$metadata" | jq -r -s \\
  --argjson hosts "$(json_words "\${disk_hosts[@]}")" \\
  --argjson classes "$(json_words "\${disk_classes[@]}")" \\
  --argjson serials "$(json_words "\${disk_serials[@]}")" \\
  --argjson paths "$(json_words "\${disk_paths[@]}")" \\
  "$jq_class_plan")
while IFS=$'\\t' read -r id host current wanted how; do
  [[ -n "$id" ]] || continue
  # An OSD that never booted has no metadata yet: a later run maps it.
  [[ "$how" == "booting" ]] && continue
  if [[ "$how" == "unmapped" ]]; then
    unmapped+=("osd.$id on host $host (class '$current'): no model disk matches its serial or path, and its host has more than one class of that rotational kind")
    continue
  fi
  [[ "$current" == "$wanted" ]] && continue
  change_ids+=("osd.$id")
  change_hosts+=("$host")
  change_from+=("$current")
  change_to+=("$wanted")
done <<<"$class_plan"
# Batched (each CLI call costs a second or more): one rm-device-class for all, then one
# set-device-class per class.
if ((\${#change_ids[@]})); then
  bound=()
  for k in "\${!change_ids[@]}"; do
    if [[ "\${change_from[$k]}" != "-" ]]; then bound+=("\${change_ids[$k]}"); fi
  done
  if ((\${#bound[@]})); then act ceph osd crush rm-device-class "\${bound[@]}"; fi
  for class in nvme ssd hdd; do
    ids=()
    for k in "\${!change_ids[@]}"; do
      if [[ "\${change_to[$k]}" == "$class" ]]; then ids+=("\${change_ids[$k]}"); fi
    done
    if ((\${#ids[@]})); then act ceph osd crush set-device-class "$class" "\${ids[@]}"; fi
  done
  for k in "\${!change_ids[@]}"; do
    say "\${change_ids[$k]} (host \${change_hosts[$k]}) device class '\${change_from[$k]}' -> '\${change_to[$k]}'"
  done
fi

# 2. CRUSH rules, one per tier: take <root>~<class>, replicas on distinct hosts.
rules=$(cj osd crush rule dump)
for i in "\${!rule_names[@]}"; do
  name=\${rule_names[$i]}
  class=\${rule_classes[$i]}
  have=$(jq -r --arg n "$name" "$jq_rule" <<<"$rules")
  if [[ -z "$have" ]]; then
    act ceph osd crush rule create-replicated "$name" "$crush_root" "$failure_domain" "$class"
    say "crush rule $name created: take $crush_root~$class, failure domain $failure_domain"
    rules=$(cj osd crush rule dump)
    continue
  fi
  IFS=$'\\t' read -r _ _ take choose <<<"$have"
  if [[ "$take" != "$crush_root~$class" || "$choose" != "$failure_domain" ]]; then
    die "crush rule $name takes '$take' by '$choose'; the model says '$crush_root~$class' by '$failure_domain'. A rule cannot be edited in place: create a rule with the model's placement, move its pools there (ceph osd pool set POOL crush_rule NEW), remove rule $name, and rerun"
  fi
done
rule_id() { jq -r --arg n "$1" "$jq_rule" <<<"$rules" | cut -f2; }
rule_name_of() { jq -r --arg id "$1" '.[] | select((.rule_id | tostring) == $id) | .rule_name' <<<"$rules"; }

# 3. New pools land on the default class rule.
default_rule_id=$(rule_id "$default_rule")
[[ -n "$default_rule_id" ]] || die "crush rule $default_rule is missing"
config=$(cj config dump)
# What the monitors use: a mon-section value, else a global one, else Ceph's default (-1).
current=$(jq -r '[(.[] | select(.name == "osd_pool_default_crush_rule" and .section == "mon") | .value),
  (.[] | select(.name == "osd_pool_default_crush_rule" and .section == "global") | .value), "-1"] | .[0]' <<<"$config")
if [[ "$current" != "$default_rule_id" ]]; then
  act ceph config set mon osd_pool_default_crush_rule "$default_rule_id"
  say "osd_pool_default_crush_rule $current -> $default_rule_id ($default_rule)"
fi

# 4. RBD pools for Kubernetes volumes. (pools_stale: a change since the last read of the pools.)
pools=$(cj osd pool ls detail)
pools_stale=0
pool_state() { jq -r --arg p "$1" "$jq_pool" <<<"$pools"; }
for i in "\${!pool_names[@]}"; do
  pool=\${pool_names[$i]}
  rule=\${pool_rules[$i]}
  if [[ -z "$(pool_state "$pool")" ]]; then
    act ceph osd pool create "$pool" "\${pool_pg_nums[$i]}" "\${pool_pg_nums[$i]}" replicated "$rule"
    pools_stale=1
    say "pool $pool created on rule $rule"
    pools=$(cj osd pool ls detail)
  fi
  state=$(pool_state "$pool")
  IFS=$'\\t' read -r rule_now size min_size autoscale apps <<<"$state"
  if [[ "$rule_now" != "$(rule_id "$rule")" ]]; then
    act ceph osd pool set "$pool" crush_rule "$rule"
    pools_stale=1
    say "pool $pool crush_rule '$(rule_name_of "$rule_now")' -> '$rule'"
  fi
  if [[ "$size" != "\${pool_sizes[$i]}" ]]; then
    act ceph osd pool set "$pool" size "\${pool_sizes[$i]}"
    say "pool $pool size $size -> \${pool_sizes[$i]}"
    pools=$(cj osd pool ls detail)
    state=$(pool_state "$pool")
    IFS=$'\\t' read -r _ _ min_size _ _ <<<"$state"
  fi
  if [[ "$min_size" != "\${pool_min_sizes[$i]}" ]]; then
    act ceph osd pool set "$pool" min_size "\${pool_min_sizes[$i]}"
    say "pool $pool min_size $min_size -> \${pool_min_sizes[$i]}"
  fi
  if [[ "$autoscale" != "on" ]]; then
    act ceph osd pool set "$pool" pg_autoscale_mode on
    say "pool $pool pg_autoscale_mode $autoscale -> on"
  fi
  if [[ ",$apps," != *",rbd,"* ]]; then
    act rbd pool init "$pool"
    say "pool $pool initialised for rbd"
  fi
done

# 4b. RBD pools of the estate that left the model (kube-*, not listed above): kept with
# their data unless the model allows deletion (estate:ceph.allowDataDeletion).
pools=$(cj osd pool ls detail)
while IFS= read -r gone; do
  [[ -n "$gone" ]] || continue
  listed=0
  for p in "\${pool_names[@]}"; do [[ "$p" == "$gone" ]] && listed=1; done
  ((listed == 0)) || continue
  if [[ "$delete_removed_pools" == 1 ]]; then
    act ceph config set mon mon_allow_pool_delete true
    act ceph osd pool rm "$gone" "$gone" --yes-i-really-really-mean-it
    act ceph config set mon mon_allow_pool_delete false
    pools_stale=1
    say "pool $gone deleted: it left the model and estate:ceph.allowDataDeletion is true"
  else
    printf 'kept: pool %s left the model; its data stays (set estate:ceph.allowDataDeletion to true to delete it)\n' "$gone" >&2
  fi
done < <(jq -r '.[] | select(.pool_name | startswith("kube-")) | .pool_name' <<<"$pools")

# 5. The cold tier: the S3 backup user and its bucket. The user's keys stay in variables and
# reach curl through its config on stdin, never a command line or the output.
if [[ -n "$rgw_user" ]]; then
  users=$(radosgw-admin user list)
  if ! jq -e --arg u "$rgw_user" 'index($u) != null' <<<"$users" >/dev/null; then
    act radosgw-admin user create --uid="$rgw_user" --display-name="$rgw_display_name"
    pools_stale=1
    say "rgw user $rgw_user created"
  fi
  owned=$(radosgw-admin bucket list --uid="$rgw_user")
  if ! jq -e --arg b "$rgw_bucket" 'index($b) != null' <<<"$owned" >/dev/null; then
    all=$(radosgw-admin bucket list)
    if jq -e --arg b "$rgw_bucket" 'index($b) != null' <<<"$all" >/dev/null; then
      die "bucket $rgw_bucket exists but belongs to another user; the model gives it to $rgw_user (radosgw-admin bucket link --bucket=$rgw_bucket --uid=$rgw_user moves it, with its data)"
    fi
    # RGW daemons come from cephadm's spec and may still be starting: wait for the endpoint.
    for ((try = 0; ; try++)); do
      if curl -fsS --max-time 5 -o /dev/null "$rgw_url/"; then break; fi
      ((try < 90)) || die "the S3 endpoint $rgw_url does not answer"
      sleep 2
    done
    credentials=$(radosgw-admin user info --uid="$rgw_user" |
      jq -r --arg u "$rgw_user" '[.keys[] | select(.user == $u)][0] | "user = \\"\\(.access_key):\\(.secret_key)\\""')
    if ! out=$(printf '%s\\n' "$credentials" | curl -fsS --max-time 30 -K - --aws-sigv4 'aws:amz:us-east-1:s3' \\
      -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X PUT "$rgw_url/$rgw_bucket" 2>&1); then
      printf '%s\\n' "$out" >&2
      die "creating bucket $rgw_bucket through $rgw_url failed"
    fi
    say "rgw bucket $rgw_bucket created for $rgw_user"
    pools_stale=1
  fi
fi

# 6. Every other pool onto the default class rule (the autoscaler skips overlapping roots).
if ((pools_stale)); then pools=$(cj osd pool ls detail); fi
plain=$(printf '%s\\n%s\\n' "$rules" "$pools" | jq -r -s "$jq_plain_root_pools")
while IFS=$'\\t' read -r pool rule_now; do
  [[ -n "$pool" ]] || continue
  act ceph osd pool set "$pool" crush_rule "$default_rule"
  say "pool $pool crush_rule '$rule_now' -> '$default_rule' (a plain-root rule stops the autoscaler)"
done <<<"$plain"

# 7. The CSI client: RBD on the RBD pools, nothing more.
want_caps=$(jq -n -c -S --arg mon "$csi_caps_mon" --arg osd "$csi_caps_osd" --arg mgr "$csi_caps_mgr" \\
  '{mon: $mon, osd: $osd, mgr: $mgr}')
have_caps=$(ceph auth ls -f json | jq -c -S --arg e "$csi_client" '[.auth_dump[] | select(.entity == $e) | .caps] | .[0] // empty')
if [[ -z "$have_caps" ]]; then
  act ceph auth get-or-create "$csi_client" mon "$csi_caps_mon" osd "$csi_caps_osd" mgr "$csi_caps_mgr" -o /dev/null
  say "$csi_client created with caps $want_caps"
elif [[ "$have_caps" != "$want_caps" ]]; then
  act ceph auth caps "$csi_client" mon "$csi_caps_mon" osd "$csi_caps_osd" mgr "$csi_caps_mgr"
  say "$csi_client caps $have_caps -> $want_caps"
fi

# 8. The manager's Prometheus module, bound per manager before it is enabled.
mgr_dump=$(cj mgr dump)
mapfile -t managers < <(jq -r '.active_name, (.standbys[]?.name) | select(. != null and . != "")' <<<"$mgr_dump")
mgr_address() {
  local j
  for j in "\${!mgr_hosts[@]}"; do
    if [[ "$1" == "\${mgr_hosts[$j]}" || "$1" == "\${mgr_hosts[$j]}".* ]]; then
      echo "\${mgr_addresses[$j]}"
      return 0
    fi
  done
  return 1
}
mgr_option() { jq -r --arg n "$1" '[.[] | select(.section == "mgr" and .name == $n) | .value] | .[0] // ""' <<<"$config"; }
rebind=0
for mgr in "\${managers[@]}"; do
  address=$(mgr_address "$mgr") || die "manager $mgr runs on no ceph-mgr host of the model (\${mgr_hosts[*]})"
  for pair in "server_addr $address" "server_port $prometheus_port"; do
    key=\${pair%% *}
    want=\${pair#* }
    now=$(mgr_option "mgr/prometheus/$mgr/$key")
    if [[ "$now" != "$want" ]]; then
      act ceph config set mgr "mgr/prometheus/$mgr/$key" "$want"
      say "manager $mgr prometheus $key '$now' -> '$want'"
      rebind=1
    fi
  done
done
if ! jq -e '.modules | index("prometheus") != null' <<<"$mgr_dump" >/dev/null; then
  act ceph mgr module enable prometheus
  say "mgr module prometheus enabled"
  rebind=1
elif ((rebind)); then
  act ceph mgr module disable prometheus
  act ceph mgr module enable prometheus
  say "mgr module prometheus restarted on its new address"
fi
# Verify: the active manager advertises the model's URL (the manager respawns to load the
# module, which takes seconds to a minute).
for ((try = 0; ; try++)); do
  if ((try > 0 || rebind)); then mgr_dump=$(cj mgr dump); fi
  active=$(jq -r '.active_name // ""' <<<"$mgr_dump")
  url=$(jq -r '.services.prometheus // ""' <<<"$mgr_dump")
  if [[ -n "$active" ]] && address=$(mgr_address "$active") && [[ "$url" == "http://$address:$prometheus_port/" ]]; then
    break
  fi
  ((try < 90)) || die "the active manager '$active' advertises prometheus at '$url', not on the model's address and port $prometheus_port"
  sleep 2
done

if ((\${#unmapped[@]})); then
  printf 'ceph-configure: %s\\n' "\${unmapped[@]}" >&2
  die "\${#unmapped[@]} OSD(s) could not be matched to a model disk; their device class was left alone. Give the model's disks their serials (lsblk -d -n -o SERIAL)"
fi
`;
}

/**
 * The command that reads the secrets back, for a secret output: prints one JSON object
 * `{"csiClient","csiKey","s3User","s3AccessKey","s3SecretKey"}` (the s3 fields null without
 * a cold tier). Nothing reaches a command line: the JSON travels through variables and a pipe.
 */
export function renderCephReadKeys(input: Pick<CephConfigureInput, "csi" | "rgw">): string {
  return `#!/usr/bin/env bash
# estate: read the Ceph CSI key and the S3 backup user's keys as JSON (a secret output).
set -euo pipefail
export CEPH_CONF="\${CEPH_CONF:-/etc/ceph/ceph.conf}"
csi_client=${shq(input.csi.client)}
rgw_user=${shq(input.rgw?.user ?? "")}
# The tools' chatter ("exported keyring for ...") goes to a private file, shown only on failure.
err=$(mktemp)
trap 'rm -f "$err"' EXIT
fail() {
  cat "$err" >&2
  echo "read-keys: $1 failed" >&2
  exit 1
}
auth=$(ceph auth get "$csi_client" -f json 2>"$err") || fail "ceph auth get $csi_client"
user='null'
if [[ -n "$rgw_user" ]]; then
  user=$(radosgw-admin user info --uid="$rgw_user" 2>"$err") || fail "radosgw-admin user info --uid=$rgw_user"
fi
printf '%s\\n%s\\n' "$auth" "$user" | jq -c -s --arg client "$csi_client" --arg u "$rgw_user" '
  (.[0][0].key // error("no key for " + $client)) as $key
  | (if $u == "" then {}
     else ([.[1].keys[]? | select(.user == $u)][0] // error("no S3 keys for user " + $u))
     end) as $s3
  | {csiClient: $client, csiKey: $key, s3User: (if $u == "" then null else $u end),
     s3AccessKey: $s3.access_key, s3SecretKey: $s3.secret_key}'
`;
}
