/**
 * Is a new version of the stack-output schema compatible with the base version of its
 * major (`ops/schemas/outputs-<major>.x.json`)? Compatible means: every document the base
 * accepted is still accepted, and every property the base promised is still there. What
 * breaks that, each reported with its schema path:
 *
 * - a property removed (or renamed: the old name is gone);
 * - a property newly required (outputs of an older minor lack it), or no longer required
 *   (a reader of the base counts on it);
 * - a type narrowed: a JSON type, an enum value or a union variant dropped, a const
 *   changed, a bound tightened, a pattern changed, additional properties newly refused.
 *
 * Widening (a new optional property, a new enum value, a looser bound) is compatible.
 * Plain JSON Schema (draft-07, as `z.toJSONSchema` writes it: `$ref` into `definitions`,
 * single-element `allOf` wrappers, `anyOf`/`oneOf` unions); nothing of zod needed.
 */

type Schema = Record<string, unknown>;

interface Side {
  readonly root: Schema;
}

/** Follows `$ref` and unwraps `allOf: [x]`, keeping nothing but the constraint. */
function resolve(side: Side, s: unknown, seen: Set<string> = new Set()): Schema {
  let cur = (s ?? {}) as Schema;
  for (;;) {
    const ref = cur.$ref;
    if (typeof ref === "string") {
      if (!ref.startsWith("#/") || seen.has(ref)) return cur;
      seen.add(ref);
      let target: unknown = side.root;
      for (const part of ref.slice(2).split("/")) target = (target as Schema | undefined)?.[part];
      const rest = { ...cur };
      delete rest.$ref;
      cur = { ...(target as Schema), ...rest };
      continue;
    }
    const allOf = cur.allOf;
    if (Array.isArray(allOf) && allOf.length === 1) {
      const rest = { ...cur };
      delete rest.allOf;
      cur = { ...(allOf[0] as Schema), ...rest };
      continue;
    }
    return cur;
  }
}

function types(s: Schema): string[] | undefined {
  if (s.type === undefined) return undefined;
  return Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
}

function variants(s: Schema): Schema[] | undefined {
  const v = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  return Array.isArray(v) ? v : undefined;
}

/** A union variant's identity: the const of a property both variants share (a discriminator), else its type. */
function signature(side: Side, v: Schema): string {
  const r = resolve(side, v);
  const props = (r.properties ?? {}) as Record<string, unknown>;
  const consts = Object.keys(props)
    .sort()
    .map((k) => [k, resolve(side, props[k]).const] as const)
    .filter(([, c]) => c !== undefined)
    .map(([k, c]) => `${k}=${JSON.stringify(c)}`);
  if (consts.length) return consts.join(",");
  if (r.const !== undefined) return `const=${JSON.stringify(r.const)}`;
  return `type=${(types(r) ?? ["any"]).join("|")}`;
}

const LOWER_BOUNDS = ["minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"] as const;
const UPPER_BOUNDS = ["maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"] as const;

/** The incompatibilities of `next` against `base`, one line each: `<path>: <what>`. */
export function schemaIncompatibilities(base: Schema, next: Schema): string[] {
  const b: Side = { root: base };
  const n: Side = { root: next };
  const out: string[] = [];
  const walk = (bs: unknown, ns: unknown, at: string): void => {
    const x = resolve(b, bs);
    const y = resolve(n, ns);
    const where = at || "/";

    const bv = variants(x);
    const nv = variants(y);
    if (bv) {
      // Every variant of the base must live on in the new schema.
      const candidates = nv ?? [y];
      for (const v of bv) {
        const sig = signature(b, v);
        const match = candidates.find((c) => signature(n, c) === sig);
        if (!match) out.push(`${where}: variant ${sig} removed`);
        else walk(v, match, at);
      }
      return;
    }
    if (nv) {
      // A single shape became a union: compatible when one variant still takes it.
      const sig = signature(b, x);
      const match = nv.find((c) => signature(n, c) === sig);
      if (!match) out.push(`${where}: type narrowed (${sig} is no longer one of the variants)`);
      else walk(x, match, at);
      return;
    }

    const bt = types(x);
    const yt = types(y);
    if (yt) {
      const lost = (bt ?? ["any"]).filter((t) => !yt.includes(t) && !(t === "integer" && yt.includes("number")));
      if (lost.length) out.push(`${where}: type narrowed (${(bt ?? ["any"]).join("|")} -> ${yt.join("|")})`);
    }
    if (y.const !== undefined && JSON.stringify(y.const) !== JSON.stringify(x.const)) {
      out.push(`${where}: type narrowed (now only ${JSON.stringify(y.const)})`);
    }
    if (Array.isArray(y.enum)) {
      const allowed = new Set((y.enum as unknown[]).map((e) => JSON.stringify(e)));
      const before = Array.isArray(x.enum) ? (x.enum as unknown[]) : x.const !== undefined ? [x.const] : undefined;
      if (!before) out.push(`${where}: type narrowed (now an enum)`);
      else {
        const lost = before.filter((e) => !allowed.has(JSON.stringify(e)));
        if (lost.length) out.push(`${where}: enum values removed: ${lost.map((e) => JSON.stringify(e)).join(", ")}`);
      }
    }
    if (y.pattern !== undefined && y.pattern !== x.pattern) {
      out.push(`${where}: pattern changed (${JSON.stringify(x.pattern ?? null)} -> ${JSON.stringify(y.pattern)})`);
    }
    for (const k of LOWER_BOUNDS)
      if (typeof y[k] === "number" && !(typeof x[k] === "number" && (x[k] as number) >= (y[k] as number)))
        out.push(`${where}: ${k} raised (${String(x[k] ?? "none")} -> ${String(y[k])})`);
    for (const k of UPPER_BOUNDS)
      if (typeof y[k] === "number" && !(typeof x[k] === "number" && (x[k] as number) <= (y[k] as number)))
        out.push(`${where}: ${k} lowered (${String(x[k] ?? "none")} -> ${String(y[k])})`);

    const bp = (x.properties ?? {}) as Record<string, unknown>;
    const np = (y.properties ?? {}) as Record<string, unknown>;
    const breq = new Set((x.required ?? []) as string[]);
    const nreq = new Set((y.required ?? []) as string[]);
    for (const key of Object.keys(bp)) {
      if (!(key in np)) out.push(`${at}/${key}: removed`);
      else walk(bp[key], np[key], `${at}/${key}`);
    }
    for (const key of nreq) if (!breq.has(key)) out.push(`${at}/${key}: newly required`);
    for (const key of breq) if (key in np && !nreq.has(key)) out.push(`${at}/${key}: no longer required`);
    if (y.additionalProperties === false && x.additionalProperties !== false && x.type === "object")
      out.push(`${where}: additional properties newly refused`);

    if (x.items !== undefined || y.items !== undefined) walk(x.items, y.items, `${at}/[]`);
  };
  walk(base, next, "");
  return out;
}
