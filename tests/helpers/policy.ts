/**
 * Runs the policy pack without the Pulumi CLI.
 *
 * The engine sends a policy every resource's inputs in the wire form (secrets wrapped,
 * unknowns as sentinels), and @pulumi/policy turns them into `args.props` with its own
 * `deserializeProperties(…, false)` (secrets unwrapped) and `unknownCheckingProxy`. Here
 * the program runs under the plan's mocks in a child process (its own Pulumi runtime),
 * which writes each registration's wire inputs to a file (0600, a temporary folder: the
 * plan's placeholders for secrets are in it); the tests then build the arguments with
 * those same two SDK functions. resources.json is not enough: it replaces a secret
 * with "[secret]", and the SDK gives a policy the value (a connection's hostKey sits in
 * the same secret object as its private key).
 *
 *   node -r ts-node/register/transpile-only tests/helpers/policy.ts <stack> <out.json> [stack-file]
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type {
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";

const PROJECT_DIR = path.resolve(__dirname, "..", "..");

/** One registration as the engine would hand it to a policy pack. */
export interface WireResource {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly parent: string;
  readonly provider: string;
  readonly protect: boolean;
  readonly dependencies: readonly string[];
  /** The inputs in the wire form (protobuf Struct as JSON): secrets wrapped, unknowns as sentinels. */
  readonly props: Record<string, unknown>;
}

const cache = new Map<string, WireResource[]>();

/** The wire view of a stack's plan (cached per stack and stack file). */
export function wireView(stack: string, stackFile?: string): WireResource[] {
  const key = `${stack}\0${stackFile ?? ""}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `estate-policy-${stack}-`));
  const file = path.join(dir, "wire.json");
  try {
    execFileSync(
      process.execPath,
      [
        require.resolve("ts-node/dist/bin.js"),
        "--transpile-only",
        __filename,
        stack,
        file,
        ...(stackFile ? [stackFile] : []),
      ],
      { cwd: PROJECT_DIR, stdio: "pipe", encoding: "utf8" },
    );
    const view = JSON.parse(fs.readFileSync(file, "utf8")) as WireResource[];
    cache.set(key, view);
    return view;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/* eslint-disable @typescript-eslint/no-require-imports -- the SDK's own (internal) conversion, exactly as its server runs it */
const { deserializeProperties } = require("@pulumi/policy/deserialize") as {
  deserializeProperties(s: { toJavaScript(): unknown }, proxySecrets: boolean): Record<string, any>;
};
const { unknownCheckingProxy, UnknownValueError } = require("@pulumi/policy/proxy") as {
  unknownCheckingProxy(o: unknown): Record<string, any>;
  UnknownValueError: new (...a: unknown[]) => Error;
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** `args.props` as @pulumi/policy's server builds it from the wire form. */
export function policyProps(wire: Record<string, unknown>): Record<string, any> {
  // A deep copy: the SDK owns what it deserializes, and the tests mutate copies.
  const copy = JSON.parse(JSON.stringify(wire)) as Record<string, unknown>;
  return unknownCheckingProxy(deserializeProperties({ toJavaScript: () => copy }, false));
}

class NotApplicable extends Error {}

function notApplicable(reason?: string): never {
  throw new NotApplicable(reason ?? "not applicable");
}

const noOpts = (r: WireResource) => ({
  protect: r.protect,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
  ...(r.parent ? { parent: r.parent } : {}),
});

export interface Violation {
  readonly policy: string;
  readonly message: string;
  readonly urn?: string;
}

export interface PolicyRun {
  readonly violations: Violation[];
  /** Set when a stack policy said it does not apply (or every resource did for a resource policy). */
  readonly notApplicable: string[];
  /** Reads of a value unknown in preview (the SDK would downgrade the policy to advisory). */
  readonly unknownReads: string[];
}

/** Runs one policy against a stack's resources, as the analyzer server would. */
export async function runPolicy(
  policy: ResourceValidationPolicy | StackValidationPolicy,
  view: readonly WireResource[],
): Promise<PolicyRun> {
  const run: PolicyRun = { violations: [], notApplicable: [], unknownReads: [] };
  const handle = (e: unknown): void => {
    if (e instanceof NotApplicable) run.notApplicable.push(e.message);
    else if (e instanceof UnknownValueError) run.unknownReads.push(e.message);
    else throw e;
  };
  if ("validateStack" in policy) {
    const byUrn = new Map<string, PolicyResource>();
    const resources: PolicyResource[] = view.map((r) => {
      const props = policyProps(r.props);
      const res: PolicyResource = {
        type: r.type,
        props,
        urn: r.urn,
        name: r.name,
        opts: noOpts(r),
        dependencies: [],
        propertyDependencies: {},
        isType: () => false,
        asType: () => undefined,
      };
      byUrn.set(r.urn, res);
      return res;
    });
    view.forEach((r, i) => {
      const res = resources[i] as { parent?: PolicyResource; dependencies: PolicyResource[] };
      if (r.parent && byUrn.has(r.parent)) res.parent = byUrn.get(r.parent);
      res.dependencies = r.dependencies.map((u) => byUrn.get(u)).filter((x): x is PolicyResource => !!x);
    });
    const args: StackValidationArgs = {
      resources,
      stackTags: new Map(),
      getConfig: <T extends object>() => ({}) as T,
      notApplicable,
    };
    try {
      await policy.validateStack(args, (message, urn) => run.violations.push({ policy: policy.name, message, urn }));
    } catch (e) {
      handle(e);
    }
    return run;
  }
  const validations = [policy.validateResource ?? []].flat();
  for (const r of view)
    for (const validate of validations) {
      const args: ResourceValidationArgs = {
        type: r.type,
        props: policyProps(r.props),
        urn: r.urn,
        name: r.name,
        opts: noOpts(r),
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => ({}) as T,
        notApplicable,
      };
      try {
        await validate(args, (message, urn) =>
          run.violations.push({ policy: policy.name, message, urn: urn ?? r.urn }),
        );
      } catch (e) {
        handle(e);
      }
    }
  return run;
}

/** Pulumi's wire marker of a secret: `{ [sig]: SECRET_SIG, value }`. */
export const SIG = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Every secret value in a wire view (plain strings at any depth under a secret marker), with where. */
export function wireSecrets(view: readonly WireResource[]): { value: string; where: string }[] {
  const out: { value: string; where: string }[] = [];
  const walk = (v: unknown, where: string, secret: boolean): void => {
    if (typeof v === "string") {
      if (secret) out.push({ value: v, where });
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`, secret));
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (o[SIG] === SECRET_SIG) walk(o.value, where, true);
      else for (const [k, x] of Object.entries(o)) walk(x, `${where}.${k}`, secret);
    }
  };
  for (const r of view) walk(r.props, r.name, false);
  return out;
}

async function main(): Promise<void> {
  const [stack, out, stackFile] = process.argv.slice(2);
  const { installMocks, runProgram } = await import("../../tools/harness");
  const { readStackConfig } = await import("../../tools/stackconfig");
  const config = readStackConfig(PROJECT_DIR, stack, stackFile);
  const view: WireResource[] = [];
  installMocks(stack, config, true, {
    keepInputs: false,
    onRegister: (rec, wire) =>
      view.push({
        urn: rec.urn,
        type: rec.type,
        name: rec.name,
        parent: rec.parent,
        provider: rec.provider,
        protect: rec.protect,
        dependencies: rec.dependencies,
        props: wire(),
      }),
  });
  await runProgram(path.join(PROJECT_DIR, "index.ts"));
  fs.writeFileSync(out, JSON.stringify(view), { mode: 0o600 });
  process.exit(0);
}

if (require.main === module)
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
