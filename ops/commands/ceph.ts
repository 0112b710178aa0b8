/**
 * `ceph`: the RBD pools the outputs promise (name, size, min_size, device class) against
 * `ceph osd pool ls detail -f json`, and, for the device class, the pool's CRUSH rule from
 * `ceph osd crush rule dump -f json` (its `take` step names `<root>~<class>`).
 * Other pools (the manager's, RGW's) are listed, never a failure.
 */
import { z } from "zod";
import type { StackOutputs } from "../contract";
import { OpsError } from "../read";

const PoolDetail = z.array(
  z.looseObject({
    pool_name: z.string(),
    size: z.int(),
    min_size: z.int(),
    crush_rule: z.int(),
  }),
);
const RuleDump = z.array(
  z.looseObject({
    rule_id: z.int(),
    rule_name: z.string(),
    steps: z.array(z.looseObject({ op: z.string(), item_name: z.string().optional() })),
  }),
);

function parse<T>(schema: z.ZodType<T>, text: string, source: string, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new OpsError([`${source}: not JSON (${(e as Error).message}); give ${what}`]);
  }
  const got = schema.safeParse(json);
  if (!got.success) {
    const issue = got.error.issues[0];
    throw new OpsError([`${source}: ${issue.path.join(".") || "(top)"}: ${issue.message}; give ${what}`]);
  }
  return got.data;
}

export interface CephReport {
  readonly problems: string[];
  readonly notes: string[];
}

export function compareCeph(
  o: StackOutputs,
  poolsText: string,
  poolsSource: string,
  rulesText?: string,
  rulesSource = "rules",
): CephReport {
  const pools = parse(PoolDetail, poolsText, poolsSource, "`ceph osd pool ls detail -f json`");
  const rules =
    rulesText === undefined ? undefined : parse(RuleDump, rulesText, rulesSource, "`ceph osd crush rule dump -f json`");
  const classOfRule = new Map<number, { name: string; deviceClass?: string }>();
  for (const r of rules ?? []) {
    const take = r.steps.find((s) => s.op === "take")?.item_name;
    classOfRule.set(r.rule_id, {
      name: r.rule_name,
      deviceClass: take?.includes("~") ? take.split("~")[1] : undefined,
    });
  }
  const problems: string[] = [];
  const notes: string[] = [];
  const byName = new Map(pools.map((p) => [p.pool_name, p]));
  for (const want of o.ceph.pools) {
    const got = byName.get(want.name);
    if (!got) {
      problems.push(
        `pool ${want.name}: missing (expected size ${want.size}, min_size ${want.minSize}, class ${want.deviceClass})`,
      );
      continue;
    }
    if (got.size !== want.size) problems.push(`pool ${want.name}: size ${got.size}, expected ${want.size}`);
    if (got.min_size !== want.minSize)
      problems.push(`pool ${want.name}: min_size ${got.min_size}, expected ${want.minSize}`);
    if (!rules) continue;
    const rule = classOfRule.get(got.crush_rule);
    if (!rule) problems.push(`pool ${want.name}: CRUSH rule ${got.crush_rule} is not in the rule dump`);
    else if (rule.deviceClass !== want.deviceClass)
      problems.push(
        `pool ${want.name}: CRUSH rule ${rule.name} takes ${rule.deviceClass ? `class ${rule.deviceClass}` : "no device class"}, expected ${want.deviceClass}`,
      );
  }
  if (!rules) notes.push("device classes not checked: add --rules <file of `ceph osd crush rule dump -f json`>");
  const planned = new Set(o.ceph.pools.map((p) => p.name));
  for (const p of pools)
    if (!planned.has(p.pool_name))
      notes.push(`pool ${p.pool_name}: not an estate RBD pool (size ${p.size}, min_size ${p.min_size})`);
  return { problems, notes };
}
