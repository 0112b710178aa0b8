/**
 * The estate's policy pack: `pulumi preview --policy-pack policy` (or `pulumi up`).
 * Constructing the PolicyPack starts the analyzer server the CLI talks to, so the
 * policies live in policies.ts, where the tests import them without starting it.
 * Dependencies: the root `npm ci` (Node resolves them from ../node_modules).
 */
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("estate", { enforcementLevel: "mandatory", policies });
