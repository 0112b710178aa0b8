/** Address pools: no overlaps; loopbacks pinned inside and unique; pools large enough. */
import { inPool, loopbackRegions, poolsOverlap, resolveLoopbacks } from "../allocate";
import { type Problems, show } from "../problems";
import { isCidr } from "../schema";
import type { RuleInput } from ".";

export function poolRules({ config }: RuleInput, problems: Problems): void {
  const { pools, switches, servers } = config;
  if (!pools) return;
  const entries = Object.entries(pools).filter((e): e is [string, string] => typeof e[1] === "string");
  for (let i = 0; i < entries.length; i++)
    for (let j = i + 1; j < entries.length; j++) {
      const [an, a] = entries[i];
      const [bn, b] = entries[j];
      if (poolsOverlap(a, b))
        problems.add(`pools.${bn}`, `${show(b)} overlaps pools.${an} (${a}); give each pool its own range`);
    }

  if (!switches || !servers || !isCidr(pools.loopbacks)) return;
  const regions = loopbackRegions(pools.loopbacks);
  if (switches.length > regions.switches.capacity || servers.length > regions.servers.capacity) {
    // Reported once, at its cause: the allocations past the end would collide too.
    problems.add(
      "pools.loopbacks",
      `${show(pools.loopbacks)} holds ${regions.switches.capacity} switch and ${regions.servers.capacity} server loopbacks; ` +
        `${switches.length} switches and ${servers.length} servers need a larger pool`,
    );
    return;
  }
  const lo = resolveLoopbacks(pools.loopbacks, switches, servers);
  const all = [
    ...switches.map((n, i) => ({ path: `switches[${i}]`, name: n.name, pinned: n.loopback, lo: lo.switches[i] })),
    ...servers.map((n, i) => ({ path: `servers[${i}]`, name: n.name, pinned: n.loopback, lo: lo.servers[i] })),
  ];
  const owner = new Map<string, (typeof all)[number]>();
  for (const n of all) {
    if (n.pinned !== undefined && !inPool(n.pinned, pools.loopbacks)) {
      problems.add(
        `${n.path}.loopback`,
        `${show(n.pinned)} is outside pools.loopbacks (${pools.loopbacks}); pin an address inside it`,
      );
      continue;
    }
    const first = owner.get(n.lo);
    if (!first) {
      owner.set(n.lo, n);
      continue;
    }
    if (n.pinned !== undefined)
      problems.add(
        `${n.path}.loopback`,
        `${n.lo} is already the loopback of ${first.name}; pin ${n.name} to a free address of pools.loopbacks`,
      );
    else
      // The earlier host was pinned onto the address this host is allocated: the pin is the cause.
      problems.add(
        `${first.path}.loopback`,
        `${n.lo} is also the allocated loopback of ${n.name}; pin ${first.name} to an address no host is allocated`,
      );
  }
}
