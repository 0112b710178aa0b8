/** Builds raw stack config for validation tests from the committed stack files. */
import { parseEstate, type RawConfig } from "../../config/validate";
import { readStackConfig } from "../../tools/stackconfig";
import { PROJECT_DIR } from "./plan";

export function rawConfig(stack: "dev" | "prod"): RawConfig {
  const c = readStackConfig(PROJECT_DIR, stack);
  return { stack, values: { ...c.values }, secretKeys: [...c.secretKeys] };
}

/** A copy of `raw` whose `estate:<key>` JSON value was changed by `mutate` (which may return a replacement). */
export function edit<T = any>(raw: RawConfig, key: string, mutate: (value: T) => T | void): RawConfig {
  const full = `estate:${key}`;
  const value = JSON.parse(raw.values[full] ?? "null") as T;
  const replaced = mutate(value);
  return { ...raw, values: { ...raw.values, [full]: JSON.stringify(replaced === undefined ? value : replaced) } };
}

export function problems(raw: RawConfig): readonly string[] {
  const r = parseEstate(raw);
  return r.ok ? [] : r.problems;
}
