/**
 * The one place for validation problems and their wording.
 *
 * Every line has the form `estate:<key path>: <value> <rule>; <fix>`. Rules collect
 * problems here; `validate.ts` fails once with all of them. Pure (no Pulumi).
 */
import { z } from "zod";

export const NS = "estate";

/** Collects problems and warnings; `path` is relative to `estate:`. */
export class Problems {
  readonly lines: string[] = [];
  readonly warnings: string[] = [];
  private readonly seen = new Set<string>();

  /** One problem; `message` reads "<value> <rule>; <fix>" (the value may be absent). */
  add(path: string, message: string): void {
    const line = `${NS}:${path}: ${message}`;
    if (this.seen.has(line)) return;
    this.seen.add(line);
    this.lines.push(line);
  }

  warn(path: string, message: string): void {
    this.warnings.push(`${NS}:${path}: ${message}`);
  }
}

/** A value as quoted in a message: JSON, cut at 60 characters. */
export function show(value: unknown): string {
  if (value === undefined) return "(missing)";
  const s = JSON.stringify(value) ?? String(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function pathOf(key: string, path: readonly PropertyKey[]): string {
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

/**
 * Names for a "name one of ..." list: a plain name as it is, anything else quoted (a
 * name that failed its own format check must not break the line or inject text).
 */
export function nameList(names: readonly string[]): string {
  return names.map((n) => (/^[A-Za-z0-9._:-]{1,63}$/.test(n) ? n : show(n))).join(", ");
}

/** "did you mean 'x'? " when a known word is close to `word`, else "". */
export function suggest(word: string, known: readonly string[]): string {
  if (word.length > 64) return "";
  const best = known
    .map((k) => ({ k, d: editDistance(word.toLowerCase(), k.toLowerCase()) }))
    .sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? `did you mean '${best.k}'? ` : "";
}

/** Entries that share a key: key -> their indexes (only keys used more than once). */
export function duplicates<T>(items: readonly T[], keyOf: (t: T) => string | undefined): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  items.forEach((item, i) => {
    const k = keyOf(item);
    if (k === undefined) return;
    seen.set(k, [...(seen.get(k) ?? []), i]);
  });
  return new Map([...seen].filter(([, idx]) => idx.length > 1));
}

/** "a" or "an" before a word. */
function article(word: string): string {
  return /^[aeiou]/i.test(word) ? "an" : "a";
}

/** How a zod type name reads in a message. */
function typeName(expected: string): string {
  switch (expected) {
    case "array":
      return "a list";
    case "object":
      return "an object (a map of keys)";
    case "int":
      return "an integer";
    default:
      return `${article(expected)} ${expected}`;
  }
}

/** The schema inside any defaults, prefaults and optionals. */
export function unwrap(s: z.ZodType): z.ZodType {
  let cur: z.ZodType = s;
  while (cur instanceof z.ZodDefault || cur instanceof z.ZodPrefault || cur instanceof z.ZodOptional)
    cur = cur.unwrap() as z.ZodType;
  return cur;
}

/** The keys an object schema allows at `path` inside `schema`. */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = schema;
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

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

/** One zod issue as `[key path, message]` in the house form. */
export function issueLine(key: string, schema: z.ZodType, issue: z.core.$ZodIssue, root: unknown): [string, string] {
  const path = pathOf(key, issue.path);
  const input = (issue as { input?: unknown }).input ?? valueAt(root, issue.path);
  switch (issue.code) {
    case "invalid_type": {
      const what = typeName(issue.expected);
      if (input === undefined) return [path, `is required (${what}); add it to the stack file`];
      return [path, `${show(input)} is not ${what}; write ${what}`];
    }
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
        return [path, `has ${Array.isArray(input) ? input.length : 0} entries; list at least ${issue.minimum}`];
      if (issue.origin === "string")
        return [path, `${show(input)} is too short; use at least ${issue.minimum} character(s)`];
      if (issue.inclusive === false)
        return [path, `${show(input)} must be greater than ${issue.minimum}; use a larger value`];
      return [path, `${show(input)} is too small; use at least ${issue.minimum}`];
    case "too_big":
      if (issue.origin === "array")
        return [path, `has ${Array.isArray(input) ? input.length : 0} entries; list at most ${issue.maximum}`];
      if (issue.origin === "string")
        return [path, `${show(input)} is too long; use at most ${issue.maximum} characters`];
      if (issue.inclusive === false)
        return [path, `${show(input)} must be less than ${issue.maximum}; use a smaller value`];
      return [path, `${show(input)} is too large; use at most ${issue.maximum}`];
    default: {
      // Custom rules (refinements) read "<rule>; <fix>"; a message without a fix gets one.
      const msg = issue.message.includes("; ") ? issue.message : `${issue.message}; correct the value`;
      return [path, `${show(input)} ${msg}`];
    }
  }
}
