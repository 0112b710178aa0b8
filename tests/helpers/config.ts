/** Builds raw stack config for validation tests from the committed stack files. */
import type { Estate } from "../../config/model";
import { parseEstate, type RawConfig } from "../../config/validate";
import { readStackConfig } from "../../tools/stackconfig";
import { PROJECT_DIR } from "./plan";

/** The raw config of a committed stack as `load.ts` hands it to validation. */
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

/** The promised form of every line: `estate:<key path>: <value> <rule>; <fix>`. */
export const PROBLEM_FORM = /^estate:[A-Za-z][A-Za-z0-9.[\]]*: \S.*; \S.*$/s;

/** The problems of `raw`; fails when any line breaks the promised form. */
export function problems(raw: RawConfig): readonly string[] {
  const r = parseEstate(raw);
  const lines = r.ok ? [] : r.problems;
  const malformed = lines.filter((l) => !PROBLEM_FORM.test(l));
  if (malformed.length)
    throw new Error(`problem lines without the form '<key>: <value> <rule>; <fix>':\n${malformed.join("\n")}`);
  return lines;
}

/** Five different mistakes in the prod config, and the keys their lines must name. */
export const FIVE_MISTAKES = {
  keys: [
    "estate:servers[1].mgmtAddress",
    "estate:servers[6].name",
    "estate:servers[2].uplinks[1].leaf",
    "estate:frontend.vip",
    "estate:ceph.replicas",
  ],
  /** Applies them to a `config:` map of parsed values (as in a stack file). */
  apply(config: Record<string, any>): void {
    config["estate:servers"][1].mgmtAddress = "10.10.0.300";
    config["estate:servers"][6].name = "wrk-1";
    config["estate:servers"][2].uplinks[1].leaf = "leaf-1a";
    config["estate:frontend"].vip = "10.99.0.10";
    config["estate:ceph"].replicas = 5;
  },
};

/** `raw` with FIVE_MISTAKES applied. */
export function withFiveMistakes(raw: RawConfig): RawConfig {
  const keys = ["estate:servers", "estate:frontend", "estate:ceph"];
  const config = Object.fromEntries(keys.map((k) => [k, JSON.parse(raw.values[k])]));
  FIVE_MISTAKES.apply(config);
  return { ...raw, values: { ...raw.values, ...Object.fromEntries(keys.map((k) => [k, JSON.stringify(config[k])])) } };
}

/** The model of a committed stack (throws the problems if it is invalid). */
export function estateOf(stack: "dev" | "prod"): Estate {
  const r = parseEstate(rawConfig(stack));
  if (!r.ok) throw new Error(r.problems.join("\n"));
  return r.estate;
}
