/**
 * Reads a stack's config the way the CLI assembles it: `Pulumi.yaml` project defaults,
 * then `Pulumi.<stack>.yaml`. Values become the strings the CLI passes to the program.
 * Encrypted (`secure:`) values and secrets the file does not hold cannot be decrypted or
 * known without the CLI: they get clearly marked placeholders, and stay secret.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import { SecretKeys } from "../config/schema";
import type { StackConfig } from "./harness";

export interface LoadedStackConfig extends StackConfig {
  /** Keys that got a placeholder instead of a real secret. */
  readonly placeholders: readonly string[];
}

/** A stack file or Pulumi.yaml that cannot be read as config: `message` is the one line to print. */
export class StackFileError extends Error {
  override readonly name = "StackFileError";
}

/**
 * How many nodes aliases may add to a document when expanded. js-yaml shares an aliased
 * node instead of copying it, so loading an alias bomb is quick; whatever walks the result
 * (JSON.stringify for the CLI's strings, validation) would expand it to billions of nodes.
 * Stack files need no aliases at all; this leaves room for a few hand-written ones.
 */
export const MAX_ALIAS_EXPANSION = 100_000;

/** Config namespaces a stack may set: this project's, and those of the providers it uses. */
const NAMESPACES = ["estate", "kubernetes", "command", "random", "pulumi"];

/** `file` relative to the working directory when inside it (shorter lines), else as given. */
function shown(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

function yamlFix(reason: string): string {
  if (/duplicated mapping key/.test(reason))
    return "each key may appear once in a map: remove or merge the repeated one";
  if (/unknown tag/.test(reason))
    return "stack files use no YAML tags: remove the tag, or quote the value if it is text";
  if (/single document/.test(reason)) return "a stack file is one YAML document: remove the extra '---'";
  return "fix the YAML there (indentation, quoting, a missing ':')";
}

/** Nodes the value would have with every alias written out (stops counting past `limit`). */
function expandedSize(root: unknown, limit: number): number {
  const memo = new Map<object, number>();
  const size = (v: unknown): number => {
    if (v === null || typeof v !== "object") return 1;
    const known = memo.get(v);
    if (known !== undefined) return known;
    memo.set(v, Infinity); // a cycle counts as unbounded
    let n = 1;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      n += size(child);
      if (n > limit) break;
    }
    memo.set(v, n);
    return n;
  };
  return size(root);
}

/** Nodes the value has as parsed (an aliased node counted once). */
function parsedSize(root: unknown): number {
  const seen = new Set<object>();
  let n = 0;
  const walk = (v: unknown): void => {
    n++;
    if (v === null || typeof v !== "object" || seen.has(v)) return;
    seen.add(v);
    for (const child of Array.isArray(v) ? v : Object.values(v)) walk(child);
  };
  walk(root);
  return n;
}

/** `line:column` (1-based) of offset `at` in `text`. */
function lineCol(text: string, at: number): string {
  const before = text.slice(0, at).split("\n");
  return `${before.length}:${before[before.length - 1].length + 1}`;
}

/**
 * Loads one YAML document from `file`: a syntax error, a duplicate key, an unknown tag
 * or an alias expansion past MAX_ALIAS_EXPANSION is a StackFileError naming the file,
 * line and column.
 */
export function loadYamlFile(file: string): unknown {
  const text = fs.readFileSync(file, "utf8");
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: file });
  } catch (e) {
    if (!(e instanceof yaml.YAMLException)) throw e;
    let where = e.mark ? `:${e.mark.line + 1}:${e.mark.column + 1}` : "";
    if (!where && /single document/.test(e.reason)) {
      // js-yaml gives no position here: the second document starts at the second '---' (or the first after content).
      const starts = [...text.matchAll(/^---/gm)].map((m) => m.index);
      const at = /^\s*(#.*\n\s*)*---/.test(text) ? starts[1] : starts[0];
      if (at !== undefined) where = `:${lineCol(text, at)}`;
    }
    throw new StackFileError(`${shown(file)}${where}: ${e.reason}; ${yamlFix(e.reason)}`);
  }
  if (/(^|[\s,[{])\*[^\s,[\]{}]/.test(text)) {
    const added = expandedSize(doc, Number.MAX_SAFE_INTEGER / 2) - parsedSize(doc);
    if (added > MAX_ALIAS_EXPANSION) {
      const first = /(^|[\s,[{])\*[^\s,[\]{}]/m.exec(text);
      const where = first ? `:${lineCol(text, first.index + first[1].length)}` : "";
      throw new StackFileError(
        `${shown(file)}${where}: aliases expand the document by more than ${MAX_ALIAS_EXPANSION} nodes ` +
          `(an alias bomb?); write the values out instead of aliasing them`,
      );
    }
  }
  return doc;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a map";
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** The `config:` map of a loaded project or stack file; every key's namespace checked. */
function configMap(doc: unknown, file: string, project: boolean): Record<string, unknown> {
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc))
    throw new StackFileError(
      `${shown(file)}: ${describe(doc)} must be a map with a 'config:' key; start the file with 'config:'`,
    );
  const config = (doc as { config?: unknown }).config;
  if (config === null || config === undefined) return {};
  if (typeof config !== "object" || Array.isArray(config))
    throw new StackFileError(
      `${shown(file)}: config: ${describe(config)} must be a map of keys to values; ` +
        `write one 'estate:<key>: <value>' per line under 'config:'`,
    );
  for (const key of Object.keys(config)) {
    const ns = key.includes(":") ? key.slice(0, key.indexOf(":")) : project ? "estate" : "";
    if (NAMESPACES.includes(ns) && key.length > ns.length + 1) continue;
    const name = key.includes(":") ? key.slice(key.indexOf(":") + 1) : key;
    throw new StackFileError(
      `${shown(file)}: config.${key}: is not in a namespace this program reads ` +
        `(${NAMESPACES.join(", ")}); write estate:${name || "<key>"}`,
    );
  }
  return config as Record<string, unknown>;
}

function asConfigString(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

function qualify(key: string): string {
  return key.includes(":") ? key : `estate:${key}`;
}

/** Secrets whose placeholder must parse: committed fixtures for the plan and tests only (never deployed). */
const PARSEABLE_PLACEHOLDERS: Record<string, string> = {
  "estate:tlsCertificate": "tests/fixtures/plan-only-tls.crt",
  "estate:tlsKey": "tests/fixtures/plan-only-tls.key",
  "estate:alertmanagerCredentials": "tests/fixtures/plan-only-alertmanager-credentials.json",
};

export function placeholderFor(key: string): string {
  const fixture = PARSEABLE_PLACEHOLDERS[key];
  if (fixture) return fs.readFileSync(path.join(__dirname, "..", fixture), "utf8");
  return `[plan placeholder for ${key}: not a real secret]`;
}

export function readStackConfig(projectDir: string, stack: string, stackFile?: string): LoadedStackConfig {
  const values: Record<string, string> = {};
  const secretKeys = new Set<string>();
  const placeholders: string[] = [];

  const projectFile = path.join(projectDir, "Pulumi.yaml");
  for (const [key, decl] of Object.entries(configMap(loadYamlFile(projectFile), projectFile, true))) {
    const d = decl as { value?: unknown; default?: unknown } | null;
    const v = d && typeof d === "object" && ("value" in d || "default" in d) ? (d.value ?? d.default) : decl;
    if (v !== undefined) values[qualify(key)] = asConfigString(v);
  }

  const file = stackFile ?? path.join(projectDir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file))
    throw new StackFileError(`no stack file ${file}; create it (npm run synth, or copy Pulumi.dev.yaml)`);
  for (const [key, v] of Object.entries(configMap(loadYamlFile(file), file, false))) {
    const k = qualify(key);
    if (v && typeof v === "object" && "secure" in (v as object)) {
      values[k] = placeholderFor(k);
      secretKeys.add(k);
      placeholders.push(k);
    } else {
      values[k] = asConfigString(v);
    }
  }
  for (const key of Object.keys(SecretKeys)) {
    const k = `estate:${key}`;
    if (values[k] === undefined) {
      values[k] = placeholderFor(k);
      secretKeys.add(k);
      placeholders.push(k);
    }
  }
  return { values, secretKeys: [...secretKeys].sort(), placeholders: placeholders.sort() };
}
