/**
 * The cross-key rules, one file per estate part. Each rule reads the keys it needs from
 * what parsed and adds problems; a rule whose keys did not parse stays silent, so one
 * pass reports as much as it can. Order is the order lines are printed.
 */
import type { PartialParsed } from "../parse";
import type { Problems } from "../problems";
import { cephRules } from "./ceph";
import { fabricRules } from "./fabric";
import { frontendRules } from "./frontend";
import { inventoryRules } from "./inventory";
import { kubernetesRules } from "./kubernetes";
import { meshRules } from "./mesh";
import { monitoringRules } from "./monitoring";
import { poolRules } from "./pools";

export interface RuleInput {
  readonly config: PartialParsed;
  /** Secret values by key (without `estate:`); undefined when unset. */
  readonly secrets: Readonly<Record<string, string | undefined>>;
}

export type Rule = (input: RuleInput, problems: Problems) => void;

export const RULES: readonly Rule[] = [
  poolRules,
  inventoryRules,
  fabricRules,
  frontendRules,
  kubernetesRules,
  meshRules,
  cephRules,
  monitoringRules,
];
