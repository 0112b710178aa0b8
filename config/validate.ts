/**
 * Parse and validate the stack config into the typed estate model.
 *
 * Pure: takes the raw `estate:*` values as the Pulumi CLI passes them (strings, objects
 * JSON-encoded) and returns either the model or every problem found, one line each:
 * `estate:<key path>: <value> <rule>; <fix>`. Nothing is registered before this passes.
 */
import { z } from "zod";
import {
  fabricLinkRegions,
  inPool,
  isNetworkOrBroadcast,
  isPrivateAsn,
  loopbackRegions,
  oversubscriptionRatio,
  poolSize,
  poolsOverlap,
  resolveLoopbacks,
  serverAsns,
  switchAsns,
} from "./allocate";
import type { Estate, Server, ServerUplink, Switch } from "./model";
import { ConfigKeys, type ConfigKey, formatChecks, isCidr, SecretKeys, type SecretKey } from "./schema";
import { tlsPairProblems, vrrpPasswordProblems } from "./frontend";

export interface RawConfig {
  /** Stack name, used only in the text of fixes (`--stack <name>`). */
  readonly stack: string;
  /** Every config value of the stack, keyed `namespace:key`, as strings. */
  readonly values: Readonly<Record<string, string>>;
  /** Keys (`estate:...`) whose values are secret. */
  readonly secretKeys: readonly string[];
}

export type Result =
  | { readonly ok: true; readonly estate: Estate; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly problems: readonly string[]; readonly warnings: readonly string[] };

const NS = "estate";

type Parsed = { [K in ConfigKey]: z.output<(typeof ConfigKeys)[K]> };

/** Collects problems; `path` is relative to `estate:`. */
class Problems {
  readonly lines: string[] = [];
  readonly warnings: string[] = [];
  add(path: string, message: string): void {
    this.lines.push(`${NS}:${path}: ${message}`);
  }
  warn(path: string, message: string): void {
    this.warnings.push(`${NS}:${path}: ${message}`);
  }
}

function show(value: unknown): string {
  if (value === undefined) return "(missing)";
  const s = JSON.stringify(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function pathOf(key: string, path: readonly PropertyKey[]): string {
  let out = key;
  for (const p of path) out += typeof p === "number" ? `[${p}]` : `.${String(p)}`;
  return out;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

function suggest(word: string, known: readonly string[]): string {
  const best = known
    .map((k) => ({ k, d: editDistance(word.toLowerCase(), k.toLowerCase()) }))
    .sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? `did you mean '${best.k}'? ` : "";
}

function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType = schema;
  for (const p of path) {
    s = unwrap(s);
    if (s instanceof z.ZodArray) s = s.element as z.ZodType;
    else if (s instanceof z.ZodObject) s = (s.shape as Record<string, z.ZodType>)[String(p)];
    if (!s) return [];
  }
  s = unwrap(s);
  if (s instanceof z.ZodArray) s = unwrap(s.element as z.ZodType);
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function unwrap(s: z.ZodType): z.ZodType {
  let cur: z.ZodType = s;
  while (cur instanceof z.ZodDefault || cur instanceof z.ZodOptional) cur = cur.unwrap() as z.ZodType;
  return cur;
}

function issueLine(key: string, schema: z.ZodType, issue: z.core.$ZodIssue, root: unknown): [string, string] {
  const path = pathOf(key, issue.path);
  const input = (issue as { input?: unknown }).input ?? valueAt(root, issue.path);
  switch (issue.code) {
    case "invalid_type":
      if (input === undefined) return [path, `is required (${issue.expected}); add it to the stack file`];
      return [path, `${show(input)} is not a ${issue.expected}; write a ${issue.expected}`];
    case "unrecognized_keys": {
      const known = knownKeysAt(schema, issue.path);
      const k = issue.keys[0];
      return [
        pathOf(key, [...issue.path, k]),
        `unknown key ${show(k)}; ${suggest(k, known)}allowed keys: ${known.join(", ")}`,
      ];
    }
    case "invalid_value":
      return [path, `${show(input)} is not allowed; use one of ${issue.values.map((v) => show(v)).join(", ")}`];
    case "too_small":
      if (issue.origin === "array")
        return [path, `has ${Array.isArray(input) ? input.length : 0} entries; needs at least ${issue.minimum}`];
      return [path, `${show(input)} is too small; use at least ${issue.minimum}`];
    case "too_big":
      return [path, `${show(input)} is too large; use at most ${issue.maximum}`];
    default:
      return [path, `${show(input)} ${issue.message}`];
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

/** Step 1: types, formats and unknown keys, key by key. */
function parseKeys(raw: RawConfig, problems: Problems): Partial<Parsed> {
  const known = [...Object.keys(ConfigKeys), ...Object.keys(SecretKeys)];
  for (const full of Object.keys(raw.values).sort()) {
    if (!full.startsWith(`${NS}:`)) continue;
    const key = full.slice(NS.length + 1);
    if (!known.includes(key)) {
      problems.add(key, `unknown key; ${suggest(key, known)}known keys: ${known.join(", ")}`);
    }
  }
  const out: Partial<Parsed> = {};
  for (const key of Object.keys(ConfigKeys) as ConfigKey[]) {
    const schema = ConfigKeys[key] as z.ZodType;
    const text = raw.values[`${NS}:${key}`];
    let value: unknown = undefined;
    if (text !== undefined) {
      try {
        value = JSON.parse(text);
      } catch {
        value = text; // a plain string value; the schema says whether that is right
      }
    }
    const result = schema.safeParse(value, { reportInput: true });
    if (result.success) {
      (out as Record<string, unknown>)[key] = result.data;
      continue;
    }
    const seen = new Set<string>();
    for (const issue of result.error.issues) {
      const [path, msg] = issueLine(key, schema, issue, value);
      const line = `${path}: ${msg}`;
      if (!seen.has(line)) {
        seen.add(line);
        problems.add(path, msg);
      }
    }
    // Malformed values are reported; if the key is otherwise well-typed, read it again
    // without format checks so the cross-key rules can still run on it.
    formatChecks.enabled = false;
    try {
      const structural = schema.safeParse(value);
      if (structural.success) (out as Record<string, unknown>)[key] = structural.data;
    } finally {
      formatChecks.enabled = true;
    }
  }
  return out;
}

function checkSecrets(raw: RawConfig, problems: Problems): void {
  for (const key of Object.keys(SecretKeys) as SecretKey[]) {
    const full = `${NS}:${key}`;
    const spec = SecretKeys[key];
    const value = raw.values[full];
    if (value === undefined || value === "") {
      problems.add(key, `is missing (${spec.what}); set it with: ${spec.setCommand(raw.stack)}`);
    } else if (!raw.secretKeys.includes(full)) {
      problems.add(
        key,
        `is stored in plain text; remove it (pulumi config rm ${full} --stack ${raw.stack}) and set it with: ${spec.setCommand(raw.stack)}`,
      );
    }
  }
  // Front tier: the certificate parses and matches its key and the VRRP password fits (config/frontend.ts).
  for (const [key, message] of tlsPairProblems(raw.values[`${NS}:tlsCertificate`], raw.values[`${NS}:tlsKey`]))
    problems.add(key, message);
  for (const [key, message] of vrrpPasswordProblems(raw.values[`${NS}:vrrpPassword`])) problems.add(key, message);
}

function duplicates<T>(items: readonly T[], keyOf: (t: T) => string | undefined): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  items.forEach((item, i) => {
    const k = keyOf(item);
    if (k === undefined) return;
    seen.set(k, [...(seen.get(k) ?? []), i]);
  });
  return new Map([...seen].filter(([, idx]) => idx.length > 1));
}

/** Step 2: rules across keys. Only runs on keys that parsed. */
function crossCheck(p: Partial<Parsed>, problems: Problems): void {
  const { pools, servers, switches, frontend, fabric, ceph, kubernetes } = p;
  // Each rule group runs when the keys it reads have parsed, so one pass reports as much as it can.
  const spines = switches?.filter((s) => s.role === "spine") ?? [];
  const leaves = switches?.filter((s) => s.role === "leaf") ?? [];
  const switchByName = new Map((switches ?? []).map((s) => [s.name, s]));
  const portUse = new Map<string, string>(); // "switch/port" -> who uses it
  const usePort = (sw: string, port: string, path: string, who: string): void => {
    const k = `${sw}/${port}`;
    const prev = portUse.get(k);
    if (prev) problems.add(path, `${show(port)} on ${sw} is already cabled to ${prev}; use a free port`);
    else portUse.set(k, who);
  };

  // Pools do not overlap.
  if (pools) {
    const poolEntries = Object.entries(pools).filter((e): e is [string, string] => typeof e[1] === "string");
    for (let i = 0; i < poolEntries.length; i++)
      for (let j = i + 1; j < poolEntries.length; j++) {
        const [an, a] = poolEntries[i];
        const [bn, b] = poolEntries[j];
        if (poolsOverlap(a, b))
          problems.add(`pools.${bn}`, `${show(b)} overlaps pools.${an} (${a}); give each pool its own range`);
      }
  }

  // Unique names and management addresses, inside the management pool.
  if (pools && switches && servers) {
    const nodes = [
      ...switches.map((s, i) => ({ path: `switches[${i}]`, name: s.name, mgmt: s.mgmtAddress })),
      ...servers.map((s, i) => ({ path: `servers[${i}]`, name: s.name, mgmt: s.mgmtAddress })),
    ];
    for (const [name, idx] of duplicates(nodes, (n) => n.name))
      for (const i of idx.slice(1))
        problems.add(
          `${nodes[i].path}.name`,
          `${show(name)} is already used by ${nodes[idx[0]].path}; every host and switch needs its own name`,
        );
    for (const [addr, idx] of duplicates(nodes, (n) => n.mgmt))
      for (const i of idx.slice(1))
        problems.add(
          `${nodes[i].path}.mgmtAddress`,
          `${show(addr)} is already used by ${nodes[idx[0]].name}; every host and switch needs its own address`,
        );
    for (const n of nodes) {
      if (!inPool(n.mgmt, pools.management))
        problems.add(
          `${n.path}.mgmtAddress`,
          `${show(n.mgmt)} is outside pools.management (${pools.management}); use an address inside it`,
        );
      else if (isNetworkOrBroadcast(n.mgmt, pools.management))
        problems.add(
          `${n.path}.mgmtAddress`,
          `${show(n.mgmt)} is the network or broadcast address of pools.management (${pools.management}); use a host address`,
        );
    }
  }

  // Switches.
  if (switches) {
    if (spines.length === 0) problems.add("switches", "has no spine; add at least one switch with role 'spine'");
    if (leaves.length === 0) problems.add("switches", "has no leaf; add at least one switch with role 'leaf'");
    switches.forEach((sw, i) => {
      const path = `switches[${i}]`;
      if (sw.role === "spine") {
        if (sw.rack)
          problems.add(`${path}.rack`, `${show(sw.rack)} is set on a spine; spines belong to no rack, remove it`);
        if (sw.uplinks.length)
          problems.add(`${path}.uplinks`, "is set on a spine; cable spines from the leaves' uplinks instead");
      } else {
        if (!sw.rack) problems.add(`${path}.rack`, "is required on a leaf; name the rack the leaf serves");
        if (sw.uplinks.length === 0)
          problems.add(`${path}.uplinks`, `leaf ${sw.name} has no uplinks; cable it to every spine`);
        const seenSpines = new Set<string>();
        sw.uplinks.forEach((u, j) => {
          const up = `${path}.uplinks[${j}]`;
          const target = switchByName.get(u.spine);
          if (!target) {
            problems.add(
              `${up}.spine`,
              `${show(u.spine)} is not a switch in estate:switches; name one of ${spines.map((s) => s.name).join(", ") || "(no spines)"}`,
            );
            return;
          }
          if (target.role !== "spine") {
            problems.add(
              `${up}.spine`,
              `${show(u.spine)} is a ${target.role}, not a spine; leaves uplink to spines only`,
            );
            return;
          }
          if (seenSpines.has(u.spine))
            problems.add(
              `${up}.spine`,
              `${show(u.spine)} is cabled twice from ${sw.name}; one link per leaf and spine`,
            );
          seenSpines.add(u.spine);
          usePort(sw.name, u.port, `${up}.port`, `${sw.name} uplink to ${u.spine}`);
          usePort(u.spine, u.spinePort, `${up}.spinePort`, `${sw.name}`);
        });
        for (const s of spines)
          if (sw.uplinks.length && !seenSpines.has(s.name))
            problems.add(
              `${path}.uplinks`,
              `leaf ${sw.name} has no link to spine ${s.name}; cable every leaf to every spine`,
            );
      }
    });
  }

  // ASNs: private, spines share one, leaves distinct.
  if (switches && servers && fabric) {
    const asnPaths: [string, number][] = [
      ["fabric.asns.spine", fabric.asns.spine],
      ["fabric.asns.leafBase", fabric.asns.leafBase],
      ["fabric.asns.serverBase", fabric.asns.serverBase],
    ];
    switches.forEach((sw, i) => {
      if (sw.asn !== undefined) asnPaths.push([`switches[${i}].asn`, sw.asn]);
    });
    servers.forEach((sv, i) => {
      if (sv.asn !== undefined) asnPaths.push([`servers[${i}].asn`, sv.asn]);
    });
    for (const [path, asn] of asnPaths)
      if (!isPrivateAsn(asn))
        problems.add(path, `${asn} is outside the private ASN ranges; use 64512-65534 or 4200000000-4294967294`);
    const lastServerAsn = fabric.asns.serverBase + servers.length - 1;
    const serverAsn = serverAsns(servers, fabric.asns.serverBase);
    const serverByAsn = new Map<number, string>();
    servers.forEach((sv, i) => {
      const owner = serverByAsn.get(serverAsn[i]);
      if (owner)
        problems.add(
          `servers[${i}].asn`,
          `${serverAsn[i]} is already the ASN of server ${owner}; each server needs its own ASN`,
        );
      else serverByAsn.set(serverAsn[i], sv.name);
    });
    if (isPrivateAsn(fabric.asns.serverBase) && !isPrivateAsn(lastServerAsn))
      problems.add(
        "fabric.asns.serverBase",
        `${fabric.asns.serverBase} leaves no room for ${servers.length} server ASNs in the private range; lower it`,
      );
    const resolved = switchAsns(switches, fabric.asns);
    const spineAsns = new Set(switches.flatMap((s, i) => (s.role === "spine" ? [resolved[i]] : [])));
    if (spineAsns.size > 1)
      problems.add("switches", `spines use ASNs ${[...spineAsns].join(", ")}; all spines share one ASN (RFC 7938)`);
    const spineAsn = [...spineAsns][0] ?? fabric.asns.spine;
    const leafIdx = switches.flatMap((s, i) => (s.role === "leaf" ? [i] : []));
    const firstOwner = new Map<number, string>();
    for (const i of leafIdx) {
      const sw = switches[i];
      const asn = resolved[i];
      // Where the number comes from: the leaf's own asn, or the leaf ASN pool.
      const key = sw.asn !== undefined ? `switches[${i}].asn` : "fabric.asns.leafBase";
      const owner = firstOwner.get(asn);
      if (owner) problems.add(`switches[${i}].asn`, `${asn} is already used by ${owner}; each leaf needs its own ASN`);
      else firstOwner.set(asn, sw.name);
      if (asn === spineAsn)
        problems.add(key, `${asn} is the spines' ASN; leaf ${sw.name} needs its own ASN for eBGP to the spines`);
      if (serverByAsn.has(asn))
        problems.add(
          key,
          `${asn} is also the ASN of server ${serverByAsn.get(asn)}; leaves and servers need distinct ASNs`,
        );
    }
  }

  // Oversubscription per leaf (server-facing : spine-facing capacity): a warning, not an error.
  if (switches && servers && fabric) {
    switches.forEach((sw, i) => {
      if (sw.role !== "leaf" || sw.uplinks.length === 0) return;
      const spineGbps = sw.uplinks.reduce((n, u) => n + u.speedGbps, 0);
      const serverGbps = servers.reduce((n, s) => {
        const speed = new Map(s.hardware.nics.map((nic) => [nic.name, nic.speedGbps]));
        return n + s.uplinks.filter((u) => u.leaf === sw.name).reduce((m, u) => m + (speed.get(u.nic) ?? 0), 0);
      }, 0);
      const ratio = oversubscriptionRatio(serverGbps, spineGbps);
      if (ratio > fabric.oversubscriptionLimit)
        problems.warn(
          `switches[${i}].uplinks`,
          `leaf ${sw.name} is oversubscribed ${ratio}:1 (${serverGbps} Gb/s to servers, ${spineGbps} Gb/s to spines), ` +
            `above fabric.oversubscriptionLimit ${fabric.oversubscriptionLimit}; add spine uplinks or raise the limit`,
        );
    });
  }

  // Loopback pool big enough; fabric link pool when numbered.
  if (pools && switches && servers && fabric && isCidr(pools.loopbacks)) {
    const lo = resolveLoopbacks(pools.loopbacks, switches, servers);
    const all = [
      ...switches.map((n, i) => ({ path: `switches[${i}]`, name: n.name, pinned: n.loopback, lo: lo.switches[i] })),
      ...servers.map((n, i) => ({ path: `servers[${i}]`, name: n.name, pinned: n.loopback, lo: lo.servers[i] })),
    ];
    const owner = new Map<string, string>();
    for (const n of all) {
      if (n.pinned !== undefined && !inPool(n.pinned, pools.loopbacks))
        problems.add(
          `${n.path}.loopback`,
          `${show(n.pinned)} is outside pools.loopbacks (${pools.loopbacks}); pin an address inside it`,
        );
      const first = owner.get(n.lo);
      if (first)
        problems.add(
          `${n.path}.loopback`,
          `${n.lo} is already the loopback of ${first}; pin ${n.name} to a free address of pools.loopbacks`,
        );
      else owner.set(n.lo, n.name);
    }
    const regions = loopbackRegions(pools.loopbacks);
    if (switches.length > regions.switches.capacity || servers.length > regions.servers.capacity)
      problems.add(
        "pools.loopbacks",
        `${show(pools.loopbacks)} holds ${regions.switches.capacity} switch and ${regions.servers.capacity} server loopbacks; ` +
          `${switches.length} switches and ${servers.length} servers need a larger pool`,
      );
    if (fabric.numbered) {
      const links =
        leaves.reduce((n, l) => n + l.uplinks.length, 0) + servers.reduce((n, s) => n + s.uplinks.length, 0);
      if (!pools.fabricLinks)
        problems.add("pools.fabricLinks", "is required when fabric.numbered is true; give a pool for the /31 links");
      else if (isCidr(pools.fabricLinks) && poolSize(pools.fabricLinks) < links * 2)
        problems.add(
          "pools.fabricLinks",
          `${show(pools.fabricLinks)} holds ${poolSize(pools.fabricLinks) / 2} /31 links; the fabric has ${links}`,
        );
      else if (isCidr(pools.fabricLinks)) {
        // components/fabric/plan.ts: leaf-spine links take the first quarter of the /31s, server links the rest.
        const regions = fabricLinkRegions(pools.fabricLinks);
        const spineLinks = leaves.reduce((n, l) => n + l.uplinks.length, 0);
        if (spineLinks > regions.switches.capacity || links - spineLinks > regions.servers.capacity)
          problems.add(
            "pools.fabricLinks",
            `${show(pools.fabricLinks)} holds ${regions.switches.capacity} leaf-spine and ${regions.servers.capacity} server /31 links; ` +
              `the fabric has ${spineLinks} and ${links - spineLinks}, use a larger pool`,
          );
      }
    }
  }

  // Servers.
  if (servers && switches && pools && frontend) {
    servers.forEach((s, i) => {
      const path = `servers[${i}]`;
      for (const [nic, idx] of duplicates(s.hardware.nics, (n) => n.name))
        problems.add(`${path}.hardware.nics[${idx[1]}].name`, `${show(nic)} is listed twice; list each NIC once`);
      for (const [disk, idx] of duplicates(s.hardware.disks, (d) => d.path))
        problems.add(`${path}.hardware.disks[${idx[1]}].path`, `${show(disk)} is listed twice; list each disk once`);
      for (const [role, idx] of duplicates(s.roles, (r) => r))
        problems.add(`${path}.roles[${idx[1]}]`, `${show(role)} is listed twice; list each role once`);
      if (s.roles.includes("k8s-server") && s.roles.includes("k8s-agent"))
        problems.add(
          `${path}.roles`,
          "has both k8s-server and k8s-agent; a K3s server already runs workloads, keep one",
        );
      if (s.roles.includes("ceph-osd") && !s.hardware.disks.some((d) => d.use === "osd"))
        problems.add(
          `${path}.roles`,
          "has ceph-osd but no disk with use 'osd'; list the raw OSD devices in hardware.disks",
        );

      // Uplinks: at least two, on two different leaves of the server's rack, from NICs it has.
      const nics = new Set(s.hardware.nics.map((n) => n.name));
      if (s.uplinks.length < 2)
        problems.add(
          `${path}.uplinks`,
          `has ${s.uplinks.length} uplink(s); cable every server to two leaves so that losing a leaf loses no server`,
        );
      const leavesUsed = new Map<string, number>();
      s.uplinks.forEach((u, j) => {
        const up = `${path}.uplinks[${j}]`;
        const leaf = switchByName.get(u.leaf);
        if (!leaf)
          problems.add(
            `${up}.leaf`,
            `${show(u.leaf)} is not a switch in estate:switches; name one of ${leaves.map((l) => l.name).join(", ")}`,
          );
        else if (leaf.role !== "leaf")
          problems.add(`${up}.leaf`, `${show(u.leaf)} is a spine; servers are cabled to leaves only`);
        else {
          if (leaf.rack && leaf.rack !== s.rack)
            problems.add(
              `${up}.leaf`,
              `${show(u.leaf)} is in rack ${leaf.rack} but ${s.name} is in rack ${s.rack}; cable servers to their rack's leaves`,
            );
          if (leavesUsed.has(u.leaf))
            problems.add(
              `${up}.leaf`,
              `${show(u.leaf)} is already uplinks[${leavesUsed.get(u.leaf)}]; the two uplinks must go to two different leaves`,
            );
          leavesUsed.set(u.leaf, j);
          usePort(u.leaf, u.port, `${up}.port`, s.name);
        }
        if (!nics.has(u.nic))
          problems.add(
            `${up}.nic`,
            `${show(u.nic)} is not in ${path}.hardware.nics; name one of ${[...nics].join(", ")}`,
          );
      });
      for (const [nic, idx] of duplicates(s.uplinks, (u) => u.nic))
        problems.add(
          `${path}.uplinks[${idx[1]}].nic`,
          `${show(nic)} already carries uplinks[${idx[0]}]; one link per NIC`,
        );

      // Front tier address.
      const isLb = s.roles.includes("lb");
      if (isLb && !s.frontend)
        problems.add(
          `${path}.frontend`,
          "is required for role lb; give the balancer's address and NIC on the front-tier segment",
        );
      if (!isLb && s.frontend)
        problems.add(`${path}.frontend`, "is set but the server has no role lb; remove it or add the role");
      if (s.frontend) {
        if (!inPool(s.frontend.address, pools.frontend))
          problems.add(
            `${path}.frontend.address`,
            `${show(s.frontend.address)} is outside pools.frontend (${pools.frontend}); use an address inside it`,
          );
        else if (isNetworkOrBroadcast(s.frontend.address, pools.frontend))
          problems.add(
            `${path}.frontend.address`,
            `${show(s.frontend.address)} is the network or broadcast address of pools.frontend; use a host address`,
          );
        if (s.frontend.address === frontend.vip)
          problems.add(
            `${path}.frontend.address`,
            `${show(s.frontend.address)} is the VIP; give the balancer its own address`,
          );
        if (s.uplinks.some((u) => u.nic === s.frontend?.nic))
          problems.add(
            `${path}.frontend.nic`,
            `${show(s.frontend.nic)} already carries a fabric uplink; use a separate NIC`,
          );
        else if (!nics.has(s.frontend.nic))
          problems.add(
            `${path}.frontend.nic`,
            `${show(s.frontend.nic)} is not in ${path}.hardware.nics; name one of ${[...nics].join(", ")}`,
          );
      }
    });
    for (const [addr, idx] of duplicates(servers, (s) => s.frontend?.address))
      for (const i of idx.slice(1))
        problems.add(
          `servers[${i}].frontend.address`,
          `${show(addr)} is already used by ${servers[idx[0]].name}; every balancer needs its own address`,
        );
    const serials = servers.flatMap((s, i) =>
      s.hardware.disks.map((d, j) => ({
        path: `servers[${i}].hardware.disks[${j}].serial`,
        serial: d.serial,
        host: s.name,
      })),
    );
    for (const [serial, idx] of duplicates(serials, (d) => d.serial))
      for (const i of idx.slice(1))
        problems.add(
          serials[i].path,
          `${show(serial)} is already the serial of a disk on ${serials[idx[0]].host}; serials are unique`,
        );
  }

  // Front tier.
  if (frontend && frontend.ports.https === frontend.ports.http)
    problems.add(
      "frontend.ports.http",
      `${frontend.ports.http} is also frontend.ports.https; HTTP (redirect only) and HTTPS need two ports`,
    );
  if (frontend?.gateway && pools) {
    if (!inPool(frontend.gateway, pools.frontend) || isNetworkOrBroadcast(frontend.gateway, pools.frontend))
      problems.add(
        "frontend.gateway",
        `${show(frontend.gateway)} is not a host address of pools.frontend (${pools.frontend}); name the segment's router`,
      );
    else if (frontend.gateway === frontend.vip)
      problems.add("frontend.gateway", `${show(frontend.gateway)} is the VIP; name the segment's router`);
  }
  if (frontend && pools && servers) {
    if (!inPool(frontend.vip, pools.frontend))
      problems.add(
        "frontend.vip",
        `${show(frontend.vip)} is outside pools.frontend (${pools.frontend}); put the VIP inside the segment`,
      );
    else if (isNetworkOrBroadcast(frontend.vip, pools.frontend))
      problems.add(
        "frontend.vip",
        `${show(frontend.vip)} is the network or broadcast address of pools.frontend; use a host address`,
      );
    const balancers = servers.filter((s) => s.roles.includes("lb"));
    if (balancers.length === 0)
      problems.add("servers", "has no server with role lb; the front tier needs at least one balancer");
    else if (frontend.highAvailability && balancers.length < 2)
      problems.add(
        "frontend.highAvailability",
        `is true but only ${balancers.length} server has role lb; add a second balancer or set it to false`,
      );
  }

  // Kubernetes and Ceph quorum.
  if (servers && kubernetes && ceph) {
    const quorum = (role: "k8s-server" | "ceph-mon", ha: boolean, key: string): void => {
      const n = servers.filter((s) => s.roles.includes(role)).length;
      if (n === 0) problems.add("servers", `has no server with role ${role}; add at least one`);
      else if (ha && (n < 3 || n % 2 === 0))
        problems.add(
          `${key}.highAvailability`,
          `is true but there are ${n} ${role} nodes; use an odd number of at least 3 (3, 5, 7) or set it to false`,
        );
    };
    quorum("k8s-server", kubernetes.highAvailability, "kubernetes");
    quorum("ceph-mon", ceph.highAvailability, "ceph");
    const osdHosts = servers.filter((s) => s.roles.includes("ceph-osd")).length;
    if (ceph.replicas > osdHosts)
      problems.add(
        "ceph.replicas",
        `${ceph.replicas} is more than the ${osdHosts} OSD host(s); Ceph places one replica per host, so use at most ${osdHosts}`,
      );
    if (ceph.minSize > ceph.replicas)
      problems.add(
        "ceph.minSize",
        `${ceph.minSize} is more than ceph.replicas (${ceph.replicas}); use at most ${ceph.replicas}`,
      );
    if (ceph.replicas >= 3 && ceph.minSize < 2)
      problems.add("ceph.minSize", `${ceph.minSize} acknowledges writes held by one copy; use 2 with 3 replicas`);
  }
}

function buildModel(stack: string, p: Parsed): Estate {
  const defaults = p.ssh;
  const endpoint = (n: { mgmtAddress: string; ssh?: { user?: string; port?: number }; hostKey: string }) => ({
    host: n.mgmtAddress,
    port: n.ssh?.port ?? defaults.port,
    user: n.ssh?.user ?? defaults.user,
    hostKey: n.hostKey.trim(),
  });
  const asns = switchAsns(p.switches, p.fabric.asns);
  const serverAsn = serverAsns(p.servers, p.fabric.asns.serverBase);
  const loopbacks = resolveLoopbacks(p.pools.loopbacks, p.switches, p.servers);
  const switches: Switch[] = p.switches.map((s, i) => ({
    kind: "switch",
    name: s.name,
    role: s.role,
    rack: s.rack,
    mgmtAddress: s.mgmtAddress,
    ssh: endpoint(s),
    asn: asns[i],
    loopback: loopbacks.switches[i],
    uplinks: s.uplinks,
  }));
  const servers: Server[] = p.servers.map((s, i) => {
    const speed = new Map(s.hardware.nics.map((n) => [n.name, n.speedGbps]));
    const uplinks: ServerUplink[] = s.uplinks.map((u) => ({ ...u, speedGbps: speed.get(u.nic) ?? 0 }));
    return {
      kind: "server",
      name: s.name,
      mgmtAddress: s.mgmtAddress,
      ssh: endpoint(s),
      roles: s.roles,
      rack: s.rack,
      hardware: s.hardware,
      uplinks,
      loopback: loopbacks.servers[i],
      asn: serverAsn[i],
      ...(s.frontend ? { frontend: s.frontend } : {}),
    };
  });
  return {
    stack,
    site: p.site,
    node: p.node,
    pools: p.pools,
    versions: p.versions,
    switches,
    servers,
    fabric: p.fabric,
    frontend: p.frontend,
    kubernetes: p.kubernetes,
    ceph: p.ceph,
    monitoring: p.monitoring,
  };
}

export function parseEstate(raw: RawConfig): Result {
  const problems = new Problems();
  const parsed = parseKeys(raw, problems);
  checkSecrets(raw, problems);
  crossCheck(parsed, problems);
  if (problems.lines.length > 0) return { ok: false, problems: problems.lines, warnings: problems.warnings };
  return { ok: true, estate: buildModel(raw.stack, parsed as Parsed), warnings: problems.warnings };
}
