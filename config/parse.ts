/**
 * Step 1 of validation: each `estate:*` key against its schema (types, formats, unknown
 * keys), and the secret keys present and stored as secrets. Pure.
 */
import type { z } from "zod";
import { issueLine, NS, type Problems, suggest } from "./problems";
import { ConfigKeys, type ConfigKey, formatChecks, RetiredKeys, SecretKeys, type SecretKey } from "./schema";

export interface RawConfig {
  /** Stack name, used only in the text of fixes (`--stack <name>`). */
  readonly stack: string;
  /** Every config value of the stack, keyed `namespace:key`, as strings. */
  readonly values: Readonly<Record<string, string>>;
  /** Keys (`estate:...`) whose values are secret. */
  readonly secretKeys: readonly string[];
}

/** Every key as its schema parsed it (defaults applied). */
export type Parsed = { [K in ConfigKey]: z.output<(typeof ConfigKeys)[K]> };

/** The keys that parsed; a rule runs when the keys it reads are here. */
export type PartialParsed = Partial<Parsed>;

export function parseKeys(raw: RawConfig, problems: Problems): PartialParsed {
  const known = [...Object.keys(ConfigKeys), ...Object.keys(SecretKeys)];
  for (const full of Object.keys(raw.values).sort()) {
    if (!full.startsWith(`${NS}:`)) continue;
    const key = full.slice(NS.length + 1);
    if (RetiredKeys[key]) {
      problems.warn(key, RetiredKeys[key](raw.stack));
    } else if (!known.includes(key)) {
      problems.add(key, `unknown key; ${suggest(key, known)}known keys: ${known.join(", ")}`);
    }
  }
  const out: PartialParsed = {};
  for (const key of Object.keys(ConfigKeys) as ConfigKey[]) {
    const schema = ConfigKeys[key] as z.ZodType;
    const text = raw.values[`${NS}:${key}`];
    let value: unknown = undefined;
    if (text !== undefined) {
      try {
        value = JSON.parse(text);
      } catch {
        value = text; // a plain string value; the schema says whether that is right
      }
    }
    const result = schema.safeParse(value, { reportInput: true });
    if (result.success) {
      (out as Record<string, unknown>)[key] = result.data;
      continue;
    }
    for (const issue of result.error.issues) {
      const [path, msg] = issueLine(key, schema, issue, value);
      problems.add(path, msg);
    }
    // Malformed values are reported; if the key is otherwise well-typed, read it again
    // without format checks so the cross-key rules can still run on it.
    formatChecks.enabled = false;
    try {
      const structural = schema.safeParse(value);
      if (structural.success) (out as Record<string, unknown>)[key] = structural.data;
    } finally {
      formatChecks.enabled = true;
    }
  }
  return out;
}

/** Every secret key is set (unless optional), and stored as a secret. */
export function checkSecretsPresent(raw: RawConfig, problems: Problems): void {
  for (const key of Object.keys(SecretKeys) as SecretKey[]) {
    const full = `${NS}:${key}`;
    const spec = SecretKeys[key];
    const value = raw.values[full];
    if (value === undefined || value === "") {
      // An optional secret is checked by the rules of the part that needs it.
      if ("optional" in spec && spec.optional) continue;
      problems.add(key, `is missing (${spec.what}); set it with: ${spec.setCommand(raw.stack)}`);
    } else if (!raw.secretKeys.includes(full)) {
      problems.add(
        key,
        `is stored in plain text; remove it (pulumi config rm ${full} --stack ${raw.stack}) and set it with: ${spec.setCommand(raw.stack)}`,
      );
    }
  }
}
