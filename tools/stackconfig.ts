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

  const project = yaml.load(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as {
    config?: Record<string, unknown>;
  };
  for (const [key, decl] of Object.entries(project.config ?? {})) {
    const d = decl as { value?: unknown; default?: unknown } | null;
    const v = d && typeof d === "object" && ("value" in d || "default" in d) ? (d.value ?? d.default) : decl;
    if (v !== undefined) values[qualify(key)] = asConfigString(v);
  }

  const file = stackFile ?? path.join(projectDir, `Pulumi.${stack}.yaml`);
  if (!fs.existsSync(file))
    throw new Error(`no stack file ${file}; create it (npm run synth, or copy Pulumi.dev.yaml)`);
  const doc = (yaml.load(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
  for (const [key, v] of Object.entries(doc.config ?? {})) {
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
