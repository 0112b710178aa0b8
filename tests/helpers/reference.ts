/**
 * Checks of generated chart values and custom resources against the pinned reference data
 * in tests/fixtures/reference/: Helm values keys against a chart's defaults, and objects
 * against a CRD's OpenAPI schema made strict (unknown fields rejected).
 */
import * as fs from "fs";
import * as path from "path";
import Ajv from "ajv";
import * as yaml from "js-yaml";
import { PROJECT_DIR } from "./plan";

export const REF = path.join(PROJECT_DIR, "tests/fixtures/reference");

/** One YAML document under tests/fixtures/reference/. */
export const loadRef = (f: string): unknown => yaml.load(fs.readFileSync(path.join(REF, f), "utf8"));

/** Every YAML document of a multi-document file under tests/fixtures/reference/. */
export const loadAllRef = (f: string): unknown[] =>
  yaml.loadAll(fs.readFileSync(path.join(REF, f), "utf8")).filter((d) => d !== null && d !== undefined);

/**
 * Keys of `values` missing from `defaults`, as dotted paths. Descends while both sides
 * are maps; stops at a default that is `{}` or a list (free-form there), and skips `skip`.
 */
export function unknownKeys(values: unknown, defaults: unknown, skip: readonly string[] = [], at = ""): string[] {
  if (!values || typeof values !== "object" || Array.isArray(values)) return [];
  if (!defaults || typeof defaults !== "object" || Array.isArray(defaults)) return [];
  const d = defaults as Record<string, unknown>;
  if (Object.keys(d).length === 0) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(values as Record<string, unknown>)) {
    const p = at ? `${at}.${k}` : k;
    if (skip.includes(p)) continue;
    if (!(k in d)) out.push(p);
    else out.push(...unknownKeys(v, d[k], skip, p));
  }
  return out;
}

export type Schema = Record<string, unknown>;

/**
 * The CRD's OpenAPI schema made strict: every object with `properties` rejects fields it
 * does not list (as the API server prunes them silently), unless it preserves unknown fields.
 */
export function strictSchema(schema: Schema): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith("x-kubernetes-")) continue;
    if (k === "properties" && v && typeof v === "object")
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, Schema>).map(([pk, pv]) => [pk, strictSchema(pv)]),
      );
    else if ((k === "items" || k === "additionalProperties") && v && typeof v === "object" && !Array.isArray(v))
      out[k] = strictSchema(v as Schema);
    else if ((k === "allOf" || k === "anyOf" || k === "oneOf") && Array.isArray(v))
      out[k] = (v as Schema[]).map(strictSchema);
    else out[k] = v;
  }
  if (schema.properties && !schema["x-kubernetes-preserve-unknown-fields"] && schema.additionalProperties === undefined)
    out.additionalProperties = false;
  return out;
}

/** A validator: the list of errors of `value`, one line each (empty when it is valid). */
export type Validator = (value: unknown) => string[];

/** Compiles a JSON schema with ajv; `strict` first makes it reject unknown fields. */
export function compileSchema(schema: Schema, strict = true): Validator {
  const ajv = new Ajv({ strict: false, allErrors: true, logger: false });
  const validate = ajv.compile(strict ? strictSchema(schema) : schema);
  return (value) =>
    validate(value)
      ? []
      : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}

interface CrdVersion {
  name: string;
  storage?: boolean;
  schema: { openAPIV3Schema: Schema };
}
interface Crd {
  kind: string;
  spec: { group: string; names: { kind: string }; versions: CrdVersion[] };
}

/**
 * The OpenAPI schema of `kind` at `apiVersion` (group/version) among the CRD documents
 * `docs`; without `apiVersion`, the storage version of the only CRD named `kind`.
 */
export function crdSchema(docs: readonly unknown[], kind: string, apiVersion?: string): Schema {
  const [group, version] = apiVersion ? apiVersion.split("/") : [undefined, undefined];
  const crd = (docs as Crd[]).find(
    (d) =>
      d?.kind === "CustomResourceDefinition" &&
      d.spec.names.kind === kind &&
      (group === undefined || d.spec.group === group),
  );
  if (!crd) throw new Error(`no CRD for ${kind} ${apiVersion ?? ""}`);
  const v = crd.spec.versions.find((x) => (version ? x.name === version : x.storage));
  if (!v) throw new Error(`CRD ${kind} has no version ${version ?? "(storage)"}`);
  return v.schema.openAPIV3Schema;
}

/**
 * A strict validator of whole objects (`apiVersion`, `kind`, `metadata`, `spec`) against
 * the CRD documents `docs`, picking each object's CRD by its own kind and apiVersion.
 */
export function crdValidator(docs: readonly unknown[]): Validator {
  const cache = new Map<string, Validator>();
  return (value) => {
    const o = value as { apiVersion?: string; kind?: string };
    if (!o?.apiVersion || !o.kind) return ["object has no apiVersion or kind"];
    const key = `${o.apiVersion} ${o.kind}`;
    let v = cache.get(key);
    if (!v) {
      const s = crdSchema(docs, o.kind, o.apiVersion);
      // Some CRDs (Istio's) list only spec and status: every object also has these three.
      const envelope = { apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" } };
      v = compileSchema({ ...s, properties: { ...envelope, ...(s.properties as Schema) } });
      cache.set(key, v);
    }
    return v(value);
  };
}
