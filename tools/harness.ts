/**
 * Runs the estate program without the Pulumi CLI: Pulumi's own mocks, a recorder of
 * every registration, and the stack's config as the CLI would pass it. Used by the
 * offline plan, the benchmark and the component tests.
 *
 * The mocks echo inputs back as state; in preview mode anything else (command stdout,
 * ids) stays unknown, as in a real `pulumi preview`.
 */
import * as pulumi from "@pulumi/pulumi";

const { isRpcSecret, unwrapRpcSecret, unknownValue } = pulumi.runtime;

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

export interface RecorderOptions {
  /**
   * Called with every registration as it reaches the monitor, raw inputs included, and a
   * function that returns the inputs as sent on the wire: there a secret inside an object
   * is still at its place (deserializing lifts it to the top-level property).
   */
  readonly onRegister?: (rec: RecordedResource, wireInputs: () => Record<string, unknown>) => void;
  /**
   * Keep each resource's raw inputs in `resources` (tests read them). The plan passes
   * false: it takes what it needs in `onRegister`, so the inputs of a registered
   * resource become garbage at once; the mock monitor then keeps no state either
   * (nothing in the program reads a resource back).
   * @default true
   */
  readonly keepInputs?: boolean;
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

/** What the SDK reads of a registration's response (it builds the same shape when it runs without a monitor). */
interface RegisterResponse {
  getUrn(): string;
  getId(): string;
  getObject(): unknown;
  getPropertydependenciesMap(): undefined;
  getResult(): number;
}

interface MonitorLike {
  registerResource(req: RegisterRequest, cb: (err: unknown, resp: RegisterResponse | undefined) => void): Promise<void>;
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

interface Wire {
  toJavaScript(): Record<string, unknown>;
}

const { deserializeProperties: deserialize, deserializeProperty } = pulumi.runtime as unknown as {
  deserializeProperties(o: unknown): Record<string, unknown>;
  deserializeProperty(v: unknown): unknown;
};

/** `deserializeProperties` of a struct already turned into JavaScript (`toJavaScript()`). */
function deserializeWire(wire: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(wire)) if (wire[k] !== undefined) out[k] = deserializeProperty(wire[k]);
  return out;
}

/**
 * Installs mocks for `stack` with `config`, and a recorder on the mock monitor. URNs are
 * built as the engine builds them (the full chain of parent types, the stack left out),
 * not as the mock monitor does (only the last parent type), so that what the plan shows
 * and what the uniqueness test checks match a real preview.
 */
export function installMocks(
  stack: string,
  config: StackConfig,
  preview = true,
  options: RecorderOptions = {},
): Recorder {
  const keepInputs = options.keepInputs ?? true;
  const echo: pulumi.runtime.Mocks["newResource"] = (args) => ({
    id: preview ? undefined : `${args.name}-id`,
    state: args.inputs,
  });
  pulumi.runtime.setMocks(
    {
      newResource: echo,
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
  // The mock monitor's store of each resource's state, for reads (`get`); kept only with the inputs.
  const mockState = (monitor as unknown as { resources?: Map<string, { state: unknown }> }).resources;

  monitor.newUrn = (parent, type, name) => {
    const parentType = parent ? parent.split("::")[2] : "";
    const qualified = parentType && parentType !== "pulumi:pulumi:Stack" ? `${parentType}$${type}` : type;
    return `urn:pulumi:${stack}::estate::${qualified}::${name}`;
  };

  // What the mock monitor does with `echo` (the inputs back as the state), without its round
  // trip: it deserializes the inputs, serializes them again and copies them into a new struct,
  // per resource. The request's struct is that state already; the SDK reads it as the response,
  // as it does itself when it runs without a monitor. A test that replaces `newResource` (to
  // give outputs values) gets the mock monitor's own path.
  const mocks = (monitor as unknown as { mocks: { newResource: unknown } }).mocks;
  const viaMocks = monitor.registerResource.bind(monitor);
  monitor.registerResource = async (req, cb) => {
    if (mocks.newResource !== echo)
      return viaMocks(req, (err, resp) => {
        if (!err && resp) record(req, resp.getUrn(), () => (req.getObject() as Wire).toJavaScript());
        cb(err, resp);
      });
    try {
      const urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
      const id = preview ? "" : `${req.getName()}-id`;
      const object = req.getObject() as Wire;
      let wire: Record<string, unknown> | undefined;
      const wireInputs = (): Record<string, unknown> => (wire ??= object.toJavaScript());
      record(req, urn, wireInputs);
      if (keepInputs) mockState?.set(urn, { urn, id: id || null, state: wireInputs() } as { state: unknown });
      cb(null, {
        getUrn: () => urn,
        getId: () => id,
        getObject: () => object,
        getPropertydependenciesMap: () => undefined,
        getResult: () => 0,
      });
    } catch (e) {
      cb(e, undefined);
    }
  };
  function record(req: RegisterRequest, urn: string, wireInputs: () => Record<string, unknown>): void {
    const deps = new Set(req.getDependenciesList());
    req.getPropertydependenciesMap().forEach((v) => v.getUrnsList().forEach((u) => deps.add(u)));
    const rec: RecordedResource = {
      urn,
      type: req.getType(),
      name: req.getName(),
      parent: req.getParent(),
      provider: req.getProvider(),
      custom: req.getCustom(),
      protect: req.getProtect() === true,
      dependencies: [...deps].sort(),
      rawInputs: deserializeWire(wireInputs()),
    };
    options.onRegister?.(rec, wireInputs);
    const kept = keepInputs ? rec : { ...rec, rawInputs: {} };
    if (!keepInputs) mockState?.delete(urn);
    recorder.resources.push(kept);
    index.set(urn, kept);
  }

  monitor.registerResourceOutputs = (req, cb) => {
    if (req.getUrn().split("::")[2] === "pulumi:pulumi:Stack") {
      recorder.stackOutputs = deserialize(req.getOutputs());
    }
    const kept = mockState?.get(req.getUrn());
    if (kept) kept.state = req.getOutputs();
    cb(null, {});
  };
  return recorder;
}

/**
 * Runs the program at `entry` as the CLI does: inside the root `pulumi:pulumi:Stack`; its
 * exports are the stack outputs, or, when it exports a function, what that returns (awaited).
 * Then waits for every registration.
 *
 * While it registers, three things the SDK does for the engine's diagnostics are off,
 * because under mocks nothing reads them and they cost time and memory:
 * - a stack trace per internal promise (`Error.stackTraceLimit = 0`: 5x faster, shared notes);
 * - a full, source-mapped call stack per resource (`Resource.callsites`: its source position);
 * - a leak-tracking wrapper per internal promise (`debuggablePromise`: an Error, two
 *   closures, a label that holds the whole input text, an entry in a set; ~12 per property);
 * - the protobuf form of every request's properties (`Struct.fromJavaScript`: a message
 *   object, a map and a wrapper per value, only for the mock monitor to convert back with
 *   `toJavaScript`). Its stand-in is a real, empty `Struct` whose `toJavaScript` returns the
 *   values as the protobuf round trip does (a copy, keys sorted, the same types refused).
 * What is registered, and in which order, does not change (tests/e2e/plan.test.ts compares).
 */
export async function runProgram(entry: string): Promise<void> {
  const restore = leanRuntime();
  try {
    await pulumi.runtime.runInPulumiStack(async () => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- load the program as the CLI does
      const program: unknown = require(entry);
      // A program may export a function (sync or async): the CLI calls it and exports what it returns.
      return typeof program === "function" ? await (program as () => unknown)() : program;
    });
    await settle();
  } finally {
    restore();
  }
}

interface Debuggable {
  debuggablePromise<T>(p: Promise<T>, ctx: unknown): Promise<T>;
}

const same = <T>(v: T): T => v;
const rethrow = (e: unknown): never => {
  throw e;
};

/** Switches the diagnostics above off; returns what switches them on again. ESTATE_PLAN_FULL_RUNTIME=1 keeps them. */
function leanRuntime(): () => void {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  if (process.env.ESTATE_PLAN_FULL_RUNTIME) return () => (Error.stackTraceLimit = limit);
  const resource = pulumi.Resource as unknown as { callsites(): unknown[] };
  const callsites = Object.getOwnPropertyDescriptor(resource, "callsites");
  resource.callsites = () => [];
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the SDK calls it through this module object
  const debuggable = require("@pulumi/pulumi/runtime/debuggable") as Debuggable;
  const wrap = debuggable.debuggablePromise;
  // The same two reactions, so every registration completes in the same order (and
  // resources.json lists them in the same order); without the per-promise state.
  debuggable.debuggablePromise = (p) => p.then(same).catch(rethrow);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module object the SDK uses
  const { Struct } = require("google-protobuf/google/protobuf/struct_pb") as { Struct: StructClass };
  const fromJavaScript = Struct.fromJavaScript;
  Struct.fromJavaScript = (obj) => {
    const plain = structCopy(obj);
    const struct = new Struct();
    struct.toJavaScript = () => plain;
    return struct;
  };
  return () => {
    Error.stackTraceLimit = limit;
    if (callsites) Object.defineProperty(resource, "callsites", callsites);
    debuggable.debuggablePromise = wrap;
    Struct.fromJavaScript = fromJavaScript;
  };
}

interface StructClass {
  new (): { toJavaScript(): Record<string, unknown> };
  fromJavaScript(obj: Record<string, unknown>): { toJavaScript(): Record<string, unknown> };
}

/**
 * What `Struct.fromJavaScript(obj).toJavaScript()` returns, without the messages between:
 * a copy with the keys of every object sorted (the protobuf map iterates them sorted),
 * and the same error for a value protobuf has no kind for.
 */
export function structCopy(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of sortedKeys(obj)) out[k] = valueCopy(obj[k]);
  return out;
}

/** Every enumerable key, as `Struct.fromJavaScript` takes them (`for...in`), sorted. */
function sortedKeys(obj: object): string[] {
  const keys: string[] = [];
  for (const k in obj) keys.push(k);
  return keys.sort();
}

function valueCopy(v: unknown): unknown {
  switch (typeof v) {
    case "string":
    case "number":
    case "boolean":
      return v;
    case "object":
      if (v === null) return null;
      if (Array.isArray(v)) return v.map(valueCopy);
      return structCopy(v as Record<string, unknown>);
    default:
      throw new Error(`Unexpected struct type.`);
  }
}

/** Waits until every registration made so far has reached the (mock) monitor. */
export async function settle(): Promise<void> {
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/** Replaces secrets with "[secret]" and unknowns with "[unknown]", recursively; sorts keys. */
export function sanitize(value: unknown): unknown {
  return sanitized(value).value;
}

/** As `sanitize`, and whether any part was secret or unknown. */
export function sanitized(value: unknown): { value: unknown; secret: boolean; unknown: boolean } {
  let secret = false;
  let unknown = false;
  const walk = (v: unknown): unknown => {
    if (v === unknownValue || pulumi.isUnknown(v)) {
      unknown = true;
      return "[unknown]";
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") {
      if (isRpcSecret(v)) {
        secret = true;
        return "[secret]";
      }
      const obj = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(obj).sort()) out[k] = walk(obj[k]);
      return out;
    }
    return v;
  };
  const out = walk(value);
  return { value: out, secret, unknown };
}

/**
 * The value at a dotted `path` of raw inputs (`"."`: all of them), with whether the path
 * crossed a secret and whether the value is unknown. Secrets inside the value stay wrapped.
 */
export function inputAt(
  inputs: Record<string, unknown>,
  path: string,
): { value: unknown; secret: boolean; unknown: boolean } {
  let cur: unknown = inputs;
  let secret = false;
  for (const key of path === "." ? [] : path.split(".")) {
    if (isRpcSecret(cur)) {
      secret = true;
      cur = unwrapRpcSecret(cur);
    }
    cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[key] : undefined;
  }
  if (isRpcSecret(cur)) {
    secret = true;
    cur = unwrapRpcSecret(cur);
  }
  return { value: cur, secret, unknown: cur === unknownValue || pulumi.isUnknown(cur) };
}

/** Whether a raw input value is a secret wrapper. */
export function isSecretValue(v: unknown): boolean {
  return !!isRpcSecret(v);
}
