/**
 * Runs the estate program without the Pulumi CLI: Pulumi's own mocks, a recorder of
 * every registration, and the stack's config as the CLI would pass it. Used by the
 * offline plan, the benchmark and the component tests.
 *
 * The mocks echo inputs back as state; in preview mode anything else (command stdout,
 * ids) stays unknown, as in a real `pulumi preview`.
 */
import * as pulumi from "@pulumi/pulumi";

/** Markers Pulumi uses on the wire (sdk/nodejs/runtime/rpc.ts). */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface RecordedResource {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly parent: string;
  readonly provider: string;
  readonly custom: boolean;
  /** `protect` as the program asked the engine for it. */
  readonly protect: boolean;
  /** URNs this resource depends on: explicit `dependsOn` and through inputs. */
  readonly dependencies: readonly string[];
  /** Inputs as registered; secrets still wrapped, unknowns as Pulumi's marker. */
  readonly rawInputs: Record<string, unknown>;
}

export interface Recorder {
  readonly resources: RecordedResource[];
  /** The stack resource's outputs, as registered (raw). */
  stackOutputs: Record<string, unknown> | undefined;
  byUrn(urn: string): RecordedResource | undefined;
}

export interface StackConfig {
  readonly values: Record<string, string>;
  readonly secretKeys: readonly string[];
}

interface MonitorLike {
  registerResource(req: RegisterRequest, cb: (err: unknown, resp: { getUrn(): string }) => void): Promise<void>;
  registerResourceOutputs(
    req: { getUrn(): string; getOutputs(): unknown },
    cb: (err: unknown, resp: unknown) => void,
  ): void;
  newUrn(parent: string, type: string, name: string): string;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getProvider(): string;
  getCustom(): boolean;
  getProtect(): boolean | undefined;
  getObject(): unknown;
  getDependenciesList(): string[];
  getPropertydependenciesMap(): { forEach(cb: (v: { getUrnsList(): string[] }, k: string) => void): void };
}

const deserialize = (pulumi.runtime as unknown as { deserializeProperties(o: unknown): Record<string, unknown> })
  .deserializeProperties;

/**
 * Installs mocks for `stack` with `config`, and a recorder on the mock monitor. URNs are
 * built as the engine builds them (the full chain of parent types, the stack left out),
 * not as the mock monitor does (only the last parent type), so that what the plan shows
 * and what the uniqueness test checks match a real preview.
 */
export function installMocks(stack: string, config: StackConfig, preview = true): Recorder {
  pulumi.runtime.setMocks(
    {
      newResource: (args) => ({ id: preview ? undefined : `${args.name}-id`, state: args.inputs }),
      call: (args) => args.inputs,
    },
    "estate",
    stack,
    preview,
  );
  pulumi.runtime.setAllConfig({ ...config.values }, [...config.secretKeys]);

  const recorder: Recorder = {
    resources: [],
    stackOutputs: undefined,
    byUrn(urn) {
      return index.get(urn);
    },
  };
  const index = new Map<string, RecordedResource>();
  const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;

  monitor.newUrn = (parent, type, name) => {
    const parentType = parent ? parent.split("::")[2] : "";
    const qualified = parentType && parentType !== "pulumi:pulumi:Stack" ? `${parentType}$${type}` : type;
    return `urn:pulumi:${stack}::estate::${qualified}::${name}`;
  };

  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) =>
    register(req, (err, resp) => {
      if (!err && resp) {
        const deps = new Set(req.getDependenciesList());
        req.getPropertydependenciesMap().forEach((v) => v.getUrnsList().forEach((u) => deps.add(u)));
        const rec: RecordedResource = {
          urn: resp.getUrn(),
          type: req.getType(),
          name: req.getName(),
          parent: req.getParent(),
          provider: req.getProvider(),
          custom: req.getCustom(),
          protect: req.getProtect() === true,
          dependencies: [...deps].sort(),
          rawInputs: deserialize(req.getObject()),
        };
        recorder.resources.push(rec);
        index.set(rec.urn, rec);
      }
      cb(err, resp);
    });

  const registerOutputs = monitor.registerResourceOutputs.bind(monitor);
  monitor.registerResourceOutputs = (req, cb) => {
    if (req.getUrn().split("::")[2] === "pulumi:pulumi:Stack") {
      recorder.stackOutputs = deserialize(req.getOutputs());
    }
    registerOutputs(req, cb);
  };
  return recorder;
}

/**
 * Runs the program at `entry` (a module whose exports are the stack outputs) as the
 * CLI does: inside the root `pulumi:pulumi:Stack`, then waits for every registration.
 */
export async function runProgram(entry: string): Promise<void> {
  const limit = Error.stackTraceLimit;
  // The SDK captures a stack trace per internal promise; under ts-node each is
  // source-mapped. Off while registering: about 5x faster (shared notes).
  Error.stackTraceLimit = 0;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- load the program as the CLI does
    await pulumi.runtime.runInPulumiStack(async () => require(entry));
    await settle();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Waits until every registration made so far has reached the (mock) monitor. */
export async function settle(): Promise<void> {
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/** Replaces secrets with "[secret]" and unknowns with "[unknown]", recursively. */
export function sanitize(value: unknown): unknown {
  if (value === UNKNOWN || pulumi.isUnknown(value)) return "[unknown]";
  if (Array.isArray(value)) return value.map(sanitize);
  if (value && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (obj[SIG_KEY] === SECRET_SIG) return "[secret]";
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(obj).sort()) out[k] = sanitize(obj[k]);
    return out;
  }
  return value;
}

/** The value at a dotted `path` of raw inputs, with its secret and unknown status. */
export function inputAt(
  inputs: Record<string, unknown>,
  path: string,
): { value: unknown; secret: boolean; unknown: boolean } {
  let cur: unknown = inputs;
  let secret = false;
  for (const key of path.split(".")) {
    if (cur && typeof cur === "object" && (cur as Record<string, unknown>)[SIG_KEY] === SECRET_SIG) {
      secret = true;
      cur = (cur as Record<string, unknown>).value;
    }
    cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[key] : undefined;
  }
  if (cur && typeof cur === "object" && (cur as Record<string, unknown>)[SIG_KEY] === SECRET_SIG) {
    secret = true;
    cur = (cur as Record<string, unknown>).value;
  }
  return { value: cur, secret, unknown: cur === UNKNOWN || pulumi.isUnknown(cur) };
}

/** Whether a raw input value is a secret wrapper. */
export function isSecretValue(v: unknown): boolean {
  return !!v && typeof v === "object" && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}
