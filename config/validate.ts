/**
 * Parse and validate the stack config into the typed estate model.
 *
 * Pure: takes the raw `estate:*` values as the Pulumi CLI passes them (strings, objects
 * JSON-encoded) and returns either the model or
 * every problem found, one line each: `estate:<key path>: <value> <rule>; <fix>`.
 * Step 1 (`parse.ts`) checks each key against its schema; step 2 runs the rules of every
 * part (`rules/<part>.ts`) on the keys that parsed. Nothing is registered before this passes.
 */
import { resolveLoopbacks, serverAsns, switchAsns, uplinksWithSpeed } from "./allocate";
import type { Estate, Server, ServerUplink, Switch } from "./model";
import { checkSecretsPresent, type Parsed, parseKeys, type RawConfig } from "./parse";
import { NS, Problems } from "./problems";
import { RULES } from "./rules";
import { SecretKeys } from "./schema";

export type { RawConfig } from "./parse";

export type Result =
  | { readonly ok: true; readonly estate: Estate; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly problems: readonly string[]; readonly warnings: readonly string[] };

function buildModel(stack: string, p: Parsed): Estate {
  const defaults = p.ssh;
  const endpoint = (n: { mgmtAddress: string; ssh?: { user?: string; port?: number }; hostKey: string }) => ({
    host: n.mgmtAddress,
    port: n.ssh?.port ?? defaults.port,
    user: n.ssh?.user ?? defaults.user,
    hostKey: n.hostKey,
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
    const uplinks: ServerUplink[] = uplinksWithSpeed(s);
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
    mesh: p.mesh,
  };
}

export function parseEstate(raw: RawConfig): Result {
  const problems = new Problems();
  const parsed = parseKeys(raw, problems);
  checkSecretsPresent(raw, problems);
  const secrets = Object.fromEntries(Object.keys(SecretKeys).map((k) => [k, raw.values[`${NS}:${k}`]]));
  for (const rule of RULES) rule({ config: parsed, secrets }, problems);
  if (problems.lines.length > 0) return { ok: false, problems: problems.lines, warnings: problems.warnings };
  return { ok: true, estate: buildModel(raw.stack, parsed as Parsed), warnings: problems.warnings };
}
