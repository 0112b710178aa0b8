/** The deploy graph as the mocks recorded it: chains of remote commands. */
import type { RecordedResource } from "../../tools/harness";

/** The longest chain of remote commands in the recorded graph (dependencies through parents too). */
export function longestCommandChain(resources: readonly RecordedResource[]): number {
  const byUrn = new Map(resources.map((r) => [r.urn, r]));
  const children = new Map<string, RecordedResource[]>();
  for (const r of resources) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
  // A dependency on a component means a dependency on every command below it; a
  // dependency on another resource (a Release, a Provider) carries that resource's own chain.
  const commandsUnder = (urn: string): RecordedResource[] => {
    const r = byUrn.get(urn);
    if (!r) return [];
    if (r.custom) return [r];
    return (children.get(urn) ?? []).flatMap((c) => commandsUnder(c.urn));
  };
  const memo = new Map<string, number>();
  const depth = (r: RecordedResource): number => {
    const hit = memo.get(r.urn);
    if (hit !== undefined) return hit;
    memo.set(r.urn, 0);
    const before = r.dependencies.flatMap((d) => commandsUnder(d));
    const d = (r.type === "command:remote:Command" ? 1 : 0) + Math.max(0, ...before.map(depth));
    memo.set(r.urn, d);
    return d;
  };
  return Math.max(0, ...resources.filter((r) => r.custom).map(depth));
}
