/**
 * What the policies read out of the resources' inputs: pure functions over plain text and
 * objects, no Pulumi. Every fact comes from an input the providers receive (a command's
 * stdin, a Helm Release's values, a Kubernetes object), never from this program's config:
 * the pack checks what would be deployed, whatever produced it.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- resource inputs are untyped JSON, read defensively */
import * as yaml from "js-yaml";

/** One BGP speaker as its FRR config declares it. */
export interface FrrSpeaker {
  /** `hostname` of the config. */
  readonly host: string;
  /** `spine`, `leaf`, `server` from the estate's header line, else `unknown`. */
  readonly tier: string;
  readonly asn: number;
  /** Every BGP session (a neighbor that is not a peer-group), and whether BFD watches it. */
  readonly sessions: readonly { readonly neighbor: string; readonly bfd: boolean }[];
  /** BFD profiles a session names that the config's `bfd` block does not define. */
  readonly missingProfiles: readonly string[];
}

/** The FRR config in `text`, or undefined when it holds no `router bgp`. */
export function parseFrr(text: string): FrrSpeaker | undefined {
  const lines = text.split("\n");
  const bgpAt = lines.findIndex((l) => /^router bgp \d+/.test(l));
  if (bgpAt < 0) return undefined;
  const asn = Number(/^router bgp (\d+)/.exec(lines[bgpAt])![1]);
  const host = lines.map((l) => /^hostname (\S+)/.exec(l)).find((m) => m)?.[1] ?? "?";
  const tier = /^! FRR config of (spine|leaf|server) /m.exec(text)?.[1] ?? "unknown";
  const profiles = new Set<string>();
  let inBfd = false;
  for (const l of lines) {
    if (/^bfd\s*$/.test(l)) inBfd = true;
    else if (/^\S/.test(l) && !/^exit/.test(l)) inBfd = false;
    const p = inBfd && /^\s+profile (\S+)/.exec(l);
    if (p) profiles.add(p[1]);
  }
  const groups = new Set<string>();
  const members = new Map<string, string | undefined>();
  const bfd = new Set<string>();
  const named = new Map<string, string>();
  for (const l of lines.slice(bgpAt + 1)) {
    if (/^\S/.test(l)) break; // the router bgp block ends at the next unindented line
    const m = /^\s+neighbor (\S+) (.*)$/.exec(l);
    if (!m) continue;
    const [, who, rest] = m;
    let g: RegExpExecArray | null;
    if (rest === "peer-group") groups.add(who);
    else if ((g = /^(?:interface )?peer-group (\S+)$/.exec(rest))) members.set(who, g[1]);
    else if (/^(?:interface )?remote-as /.test(rest)) {
      if (!members.has(who)) members.set(who, undefined);
    } else if (rest === "bfd") bfd.add(who);
    else if ((g = /^bfd profile (\S+)$/.exec(rest))) {
      bfd.add(who);
      named.set(who, g[1]);
    }
  }
  const sessions = [...members]
    .filter(([who]) => !groups.has(who))
    .map(([neighbor, group]) => ({ neighbor, bfd: bfd.has(neighbor) || (!!group && bfd.has(group)) }));
  const missingProfiles = [...new Set(named.values())].filter((p) => !profiles.has(p));
  return { host, tier, asn, sessions, missingProfiles };
}

/** A bash array of single-quoted words, `name=(\n  'a'\n  'b'\n)`, as the Ceph script carries its model. */
export function bashArray(text: string, name: string): string[] | undefined {
  const m = new RegExp(`^${name}=\\(\\n([\\s\\S]*?)^\\)`, "m").exec(text);
  if (!m) return undefined;
  return m[1]
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l)
    .map((l) => l.replace(/^'(.*)'$/, "$1"));
}

/** The replicated pools a Ceph configuration script sets up: name, CRUSH device class, size, min_size. */
export interface CephPool {
  readonly name: string;
  readonly deviceClass: string;
  readonly size: number;
  readonly minSize: number;
}

/** The pools of the estate's Ceph configuration script, or undefined when `text` is not one. */
export function cephPools(text: string): CephPool[] | undefined {
  const names = bashArray(text, "pool_names");
  const rules = bashArray(text, "pool_rules");
  const sizes = bashArray(text, "pool_sizes");
  const minSizes = bashArray(text, "pool_min_sizes");
  const ruleNames = bashArray(text, "rule_names");
  const ruleClasses = bashArray(text, "rule_classes");
  if (!names || !rules || !sizes || !minSizes || !ruleNames || !ruleClasses) return undefined;
  return names.map((name, i) => ({
    name,
    deviceClass: ruleClasses[ruleNames.indexOf(rules[i])] ?? `(rule '${rules[i]}' not defined)`,
    size: Number(sizes[i]),
    minSize: Number(minSizes[i]),
  }));
}

/** OSD hosts per CRUSH device class in cephadm service specs (multi-document YAML), or undefined. */
export function osdHostsByClass(text: string): Map<string, Set<string>> | undefined {
  if (!/^service_type: osd$/m.test(text)) return undefined;
  let docs: unknown[];
  try {
    docs = yaml.loadAll(text);
  } catch {
    return undefined;
  }
  const byClass = new Map<string, Set<string>>();
  for (const d of docs as Record<string, any>[]) {
    if (d?.service_type !== "osd") continue;
    const hosts: string[] = d.placement?.hosts ?? [];
    const devices = d.spec?.data_devices;
    const classes: string[] = Array.isArray(devices?.paths)
      ? devices.paths.map((p: any) => p?.crush_device_class ?? d.spec?.crush_device_class ?? "")
      : [d.spec?.crush_device_class ?? ""];
    for (const c of classes)
      for (const h of hosts) {
        if (!byClass.has(c)) byClass.set(c, new Set());
        byClass.get(c)!.add(h);
      }
  }
  return byClass;
}

/** sshd settings a text writes to an sshd config file: each file's path and its `keyword value` lines. */
export function sshdConfigs(stdin: string, commandLine: string): { path: string; text: string }[] {
  const found: { path: string; text: string }[] = [];
  // A script that writes the file with a heredoc: `... /etc/ssh/sshd_config.d/x.conf <<'EOF' ... EOF`.
  const heredoc = /(\/etc\/ssh\/sshd_config(?:\.d\/[\w.-]+)?)[^\n]*?<<-?\s*'?(\w+)'?\n([\s\S]*?)\n\2$/gm;
  for (const m of stdin.matchAll(heredoc)) found.push({ path: m[1], text: m[3] });
  // A file delivered whole as stdin (remoteFile): the command line names the target.
  const target = /(\/etc\/ssh\/sshd_config(?:\.d\/[\w.-]+)?)/.exec(commandLine);
  if (!found.length && target && !stdin.startsWith("#!")) found.push({ path: target[1], text: stdin });
  return found;
}

/** What an sshd config text does to password logins: the first value of each keyword, and any `Match` override. */
export function sshdPasswordProblems(text: string): string[] {
  const first = new Map<string, string>();
  const problems: string[] = [];
  let inMatch = false;
  for (const raw of text.split("\n")) {
    const l = raw.trim();
    if (!l || l.startsWith("#")) continue;
    const [kw, ...rest] = l.split(/\s+|=/).filter((w) => w);
    const key = kw.toLowerCase();
    const value = rest.join(" ").toLowerCase();
    if (key === "match") {
      inMatch = true;
      continue;
    }
    const opens = ["passwordauthentication", "kbdinteractiveauthentication", "challengeresponseauthentication"];
    if (inMatch) {
      if (opens.includes(key) && value !== "no") problems.push(`a Match block sets ${kw} ${rest.join(" ")}`);
      continue;
    }
    if (!first.has(key)) first.set(key, value);
  }
  if (first.get("passwordauthentication") !== "no")
    problems.push(`PasswordAuthentication is ${first.get("passwordauthentication") ?? "not set"} (want no)`);
  const kbd = first.get("kbdinteractiveauthentication") ?? first.get("challengeresponseauthentication");
  if (kbd !== "no") problems.push(`KbdInteractiveAuthentication is ${kbd ?? "not set"} (want no)`);
  if ((first.get("permitemptypasswords") ?? "no") !== "no") problems.push("PermitEmptyPasswords is not no");
  return problems;
}

/** Shapes of credentials that never belong in a command string, by name. */
export const SECRET_SHAPES: readonly { readonly name: string; readonly re: RegExp }[] = [
  { name: "a PEM private key", re: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/ },
  { name: "an OpenSSH private key", re: /b3BlbnNzaC1rZXktdjE/ },
  { name: "a K3s join token", re: /\bK10[0-9a-f]{64}::/ },
  { name: "a Ceph key", re: /\bAQ[A-Za-z0-9+/]{38}==/ },
  { name: "an S3/AWS access key id", re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { name: "a JSON web token", re: /\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}/ },
  { name: "a GitHub token", re: /\bgh[pousr]_[A-Za-z0-9]{36,}/ },
  { name: "a Pulumi access token", re: /\bpul-[0-9a-f]{40}\b/ },
];

/** The first credential shape found in `text`, by name. */
export function secretShape(text: string): string | undefined {
  return SECRET_SHAPES.find((s) => s.re.test(text))?.name;
}

/**
 * The parts of a secret value worth looking for in a command string: the value itself
 * (trimmed) and, for a multi-line value such as a PEM key, each line long enough not to
 * match by chance. Values shorter than 8 characters are not searched (they would match
 * ordinary words).
 */
export function needles(value: string): string[] {
  const out = new Set<string>();
  const v = value.trim();
  if (v.length >= 8) out.add(v);
  for (const line of v.split("\n").map((l) => l.trim()))
    if (line.length >= 20 && !/^-----(BEGIN|END) /.test(line)) out.add(line);
  return [...out];
}

/** Kubernetes label selector (matchLabels + matchExpressions) against labels: the reasons it does not match. */
export function selectorMisses(
  selector: { matchLabels?: Record<string, string>; matchExpressions?: any[] } | undefined,
  labels: Record<string, string>,
): string[] {
  const misses: string[] = [];
  for (const [k, v] of Object.entries(selector?.matchLabels ?? {}))
    if (labels[k] !== v) misses.push(`label ${k}=${v}` + (k in labels ? ` (has ${k}=${labels[k]})` : ""));
  for (const e of selector?.matchExpressions ?? []) {
    const has = e.key in labels;
    const values: string[] = e.values ?? [];
    const ok =
      e.operator === "In"
        ? has && values.includes(labels[e.key])
        : e.operator === "NotIn"
          ? !has || !values.includes(labels[e.key])
          : e.operator === "Exists"
            ? has
            : e.operator === "DoesNotExist"
              ? !has
              : false;
    if (!ok) misses.push(`expression ${e.key} ${e.operator}${values.length ? ` (${values.join(", ")})` : ""}`);
  }
  return misses;
}
