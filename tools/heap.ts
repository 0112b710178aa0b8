/**
 * Where the bytes go: groups a V8 heap snapshot's self sizes by constructor (objects), by
 * name (closures) or by node type (strings, code, ...), largest first.
 *
 *   ESTATE_PLAN_HEAPSNAPSHOT=x.heapsnapshot npm run plan -- --stack ...   (writes it)
 *   npx ts-node --transpile-only tools/heap.ts x.heapsnapshot [top]
 */
import * as fs from "fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] }; node_count: number };
  nodes: number[];
  strings: string[];
}

export function groupBySelfSize(snap: Snapshot): { key: string; count: number; bytes: number }[] {
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [iType, iName, iSize] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  const groups = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]];
    const name = snap.strings[snap.nodes[i + iName]];
    const key =
      type === "object" || type === "closure" ? `${type} ${name}` : type === "native" ? `native ${name}` : type;
    const g = groups.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += snap.nodes[i + iSize];
    groups.set(key, g);
  }
  return [...groups].map(([key, g]) => ({ key, ...g })).sort((a, b) => b.bytes - a.bytes);
}

if (require.main === module) {
  const [file, top = "40"] = process.argv.slice(2);
  const snap = JSON.parse(fs.readFileSync(file, "utf8")) as Snapshot;
  const rows = groupBySelfSize(snap);
  const total = rows.reduce((s, r) => s + r.bytes, 0);
  console.log(`total ${(total / 2 ** 20).toFixed(1)} MiB in ${snap.snapshot.node_count} nodes`);
  for (const r of rows.slice(0, Number(top)))
    console.log(`${(r.bytes / 2 ** 20).toFixed(2).padStart(9)} MiB ${String(r.count).padStart(9)}  ${r.key}`);
}
