/**
 * The offline plan: runs the unmodified estate program under Pulumi's mocks in preview
 * mode and writes what `pulumi preview` would register.
 *
 *   npm run plan -- --stack dev [--out plan/dev] [--stack-file path/to/Pulumi.x.yaml]
 *
 * Writes resources.json, outputs.json, artifacts/ (+ INDEX.json) and preview.txt.
 * Artifacts are read from the registered inputs of the resources components tagged, so
 * they are byte for byte what the providers would receive. Invalid config: the problems
 * on stderr, one per line, exit code 1.
 */
import * as fs from "fs";
import * as path from "path";
import * as v8 from "v8";
import { Command } from "commander";
import {
  type ArtifactFormat,
  type ArtifactTag,
  clearArtifactTags,
  taggedArtifacts,
  toYaml,
} from "../components/shared/artifacts";
import { FileWriter } from "./file-writer";
import { inputAt, installMocks, type RecordedResource, runProgram, sanitize, sanitized } from "./harness";
import { readStackConfig, StackFileError } from "./stackconfig";

const PROJECT_DIR = path.resolve(__dirname, "..");

export interface PlanOptions {
  readonly stack: string;
  readonly out: string;
  readonly stackFile?: string;
  /** The program to run. @default index.ts of the project */
  readonly entry?: string;
}

export interface ArtifactEntry {
  readonly path: string;
  readonly kind: string;
  readonly format: ArtifactFormat;
  readonly target: string;
  readonly urn: string;
  readonly property: string;
  /** SHA-256 of the file, which is exactly what the resource receives; absent when any part is secret or unknown. */
  readonly sha256?: string;
  /** The input is, or (yaml) holds, a secret: the file has "[secret]" in its place, never the value. */
  readonly secret?: boolean;
  /** The input is, or holds, a value not known until deployment (another resource's output). */
  readonly unknown?: boolean;
}

export interface PlanSummary {
  readonly resources: number;
  readonly artifacts: number;
  readonly placeholders: readonly string[];
  readonly seconds: number;
}

/** Raised for invalid config: `problems` are the lines to print. */
export class PlanConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
  }
}

function writeJson(file: string, data: unknown): void {
  fs.writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
}

function previewTree(resources: readonly RecordedResource[], stack: string): string {
  const children = new Map<string, RecordedResource[]>();
  for (const r of resources) {
    const siblings = children.get(r.parent);
    if (siblings) siblings.push(r);
    else children.set(r.parent, [r]);
  }
  const lines = [
    `Previewing update (${stack}), offline under mocks:`,
    "",
    "     Type                                Name",
  ];
  const walk = (parent: string, depth: number): void => {
    for (const r of children.get(parent) ?? []) {
      const indent = depth === 0 ? "" : `${"   ".repeat(depth - 1)}└─ `;
      lines.push(` +   ${`${indent}${r.type}`.padEnd(60)} ${r.name}`);
      walk(r.urn, depth + 1);
    }
  };
  walk("", 0);
  const counts = new Map<string, number>();
  for (const r of resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
  lines.push("", "Resources:", `    + ${resources.length} to create`, "", "By type:");
  for (const [type, n] of [...counts].sort((a, b) => a[0].localeCompare(b[0])))
    lines.push(`    ${String(n).padStart(6)}  ${type}`);
  return `${lines.join("\n")}\n`;
}

function isConfigError(e: unknown): e is Error & { problems: string[] } {
  return !!e && typeof e === "object" && (e as { name?: string }).name === "ConfigError";
}

/** ESTATE_PLAN_TRACE=1: one line per phase on stderr (seconds since start, heap, RSS, peak RSS). */
function trace(phase: string, started: bigint): void {
  if (!process.env.ESTATE_PLAN_TRACE) return;
  const m = process.memoryUsage();
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(0)}MiB`;
  const s = (Number(process.hrtime.bigint() - started) / 1e9).toFixed(2);
  const peak = mib(process.resourceUsage().maxRSS * 1024);
  process.stderr.write(`trace ${phase} ${s}s heap=${mib(m.heapUsed)} rss=${mib(m.rss)} peak=${peak}\n`);
}

/** An artifact as read from the registered inputs: the file's text, or why it cannot be written. */
interface Captured {
  readonly text: string;
  readonly secret: boolean;
  readonly unknown: boolean;
  readonly error?: string;
}

/** The artifact `tag` of a resource registered with `inputs`. */
export function captureArtifact(inputs: Record<string, unknown>, tag: ArtifactTag): Captured {
  const format = tag.format ?? "text";
  const { value, secret, unknown } = inputAt(inputs, tag.property);
  if (secret) return { text: "[secret]\n", secret: true, unknown: false };
  if (unknown) return { text: "[unknown]\n", secret: false, unknown: true };
  if (typeof value === "string") return { text: value, secret: false, unknown: false };
  if (format === "yaml" && value !== null && typeof value === "object") {
    const s = sanitized(value);
    return { text: toYaml(s.value), secret: s.secret, unknown: s.unknown };
  }
  const want = format === "text" ? "text" : "an object or YAML text";
  return { text: "", secret: false, unknown: false, error: `input '${tag.property}' is not ${want}` };
}

/**
 * Finds, as a resource registers, the tags that may be its own: by type and name, read
 * from the SDK's resource object. Exactness comes later: each tag is looked up by its
 * resource's real URN, so two resources with one type and name cannot swap artifacts.
 */
class TagIndex {
  private readonly byKey = new Map<string, Tagged[]>();
  private indexed = 0;

  candidates(type: string, name: string): readonly Tagged[] {
    const all = taggedArtifacts();
    for (; this.indexed < all.length; this.indexed++) {
      const tagged = all[this.indexed];
      const r = tagged.resource as unknown as { __pulumiType?: string; __name?: string };
      const key = `${r.__pulumiType}\0${r.__name}`;
      const list = this.byKey.get(key);
      if (list) list.push(tagged);
      else this.byKey.set(key, [tagged]);
    }
    return this.byKey.get(`${type}\0${name}`) ?? [];
  }
}

type Tagged = ReturnType<typeof taggedArtifacts>[number];

/** One element of resources.json as `JSON.stringify(list, null, 2)` writes it, indentation included. */
function resourceJson(rec: RecordedResource): string {
  const entry = {
    urn: rec.urn,
    type: rec.type,
    name: rec.name,
    parent: rec.parent,
    provider: rec.provider,
    dependencies: rec.dependencies,
    inputs: sanitize(rec.rawInputs),
  };
  // As an element of an indented array: the same text as indenting each line, without a pass over it.
  return JSON.stringify([entry], null, 2).slice(2, -2);
}

/**
 * The plan's files as they are written while the program registers: in a folder beside
 * `out` that replaces it only when the plan succeeds (an invalid config writes nothing).
 * Streaming them keeps no inputs in memory, and a text only until the writer thread has
 * written it.
 */
class Staging {
  readonly dir: string;
  private fd: number | undefined;
  private readonly writer = new FileWriter();

  constructor(private readonly out: string) {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    this.dir = fs.mkdtempSync(path.join(path.dirname(out), `.${path.basename(out)}.partial-`));
    fs.mkdirSync(path.join(this.dir, "artifacts"));
  }

  /** One element of resources.json, in registration order. */
  resource(chunk: string): void {
    if (this.fd === undefined) {
      this.fd = fs.openSync(path.join(this.dir, "resources.json"), "w");
      fs.writeSync(this.fd, `[\n${chunk}`);
    } else fs.writeSync(this.fd, `,\n${chunk}`);
  }

  closeResources(): void {
    if (this.fd === undefined) fs.writeFileSync(path.join(this.dir, "resources.json"), "[]\n");
    else {
      fs.writeSync(this.fd, "\n]\n");
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }

  /** Queues a file (on the writer thread); `flush` and `commit` wait for it. */
  file(rel: string, text: string): void {
    this.writer.write(path.join(this.dir, rel), text);
  }

  /** Waits until every queued file is written. */
  async flush(): Promise<void> {
    await this.writer.flush();
  }

  /** The SHA-256 of a file as written (after `flush`). */
  sha256(rel: string): string | undefined {
    return this.writer.sha256(path.join(this.dir, rel));
  }

  async commit(): Promise<void> {
    await this.writer.close();
    fs.rmSync(this.out, { recursive: true, force: true });
    fs.renameSync(this.dir, this.out);
  }

  async discard(): Promise<void> {
    await this.writer.abort();
    if (this.fd !== undefined) fs.closeSync(this.fd);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** What INDEX.json needs of a captured artifact; the text only while it cannot be written yet. */
interface CapturedMeta {
  readonly secret: boolean;
  readonly unknown: boolean;
  /** Neither secret nor unknown: INDEX.json gives the file's SHA-256 (the writer thread computes it). */
  readonly clean: boolean;
  readonly error?: string;
  /** Kept when two resources share a type and name, until the tag's URN says which is which. */
  readonly text?: string;
}

export async function plan(opts: PlanOptions): Promise<PlanSummary> {
  const started = process.hrtime.bigint();
  trace("start", started);
  const config = readStackConfig(PROJECT_DIR, opts.stack, opts.stackFile);
  const staging = new Staging(path.resolve(opts.out));
  let committed = false;
  // An invalid config rejects many of the SDK's promises at once; they must not end the
  // process before the problems are printed, also while the writer thread is stopped.
  let configError: (Error & { problems: string[] }) | undefined;
  const onRejection = (e: unknown): void => {
    if (isConfigError(e)) configError ??= e;
    else throw e;
  };
  process.on("unhandledRejection", onRejection);
  try {
    // What the files need is taken as each resource registers; its inputs are then garbage.
    const captures = new Map<string, CapturedMeta>();
    /** Which resource's input is on disk for an artifact file. */
    const writtenBy = new Map<string, string>();
    let registerError: unknown;
    clearArtifactTags();
    const tagIndex = new TagIndex();
    const recorder = installMocks(opts.stack, config, true, {
      keepInputs: false,
      onRegister: (rec, wireInputs) => {
        // Inside the monitor's callback a throw would stop the SDK mid-flight: keep it for later.
        try {
          register(rec, wireInputs);
        } catch (e) {
          registerError ??= e;
        }
      },
    });
    function register(rec: RecordedResource, wireInputs: () => Record<string, unknown>): void {
      staging.resource(resourceJson(rec));
      const candidates = tagIndex.candidates(rec.type, rec.name);
      if (!candidates.length) return;
      const shared = new Set(candidates.map((c) => c.resource)).size > 1;
      // The wire form keeps a secret inside an object at its place, so only that part is hidden.
      const inputs = wireInputs();
      for (const { tag } of candidates) {
        const got = captureArtifact(inputs, tag);
        const clean = !got.secret && !got.unknown && !got.error;
        const meta: CapturedMeta = {
          secret: got.secret,
          unknown: got.unknown,
          clean,
          ...(got.error ? { error: got.error } : {}),
          ...(shared ? { text: got.text } : {}),
        };
        captures.set(`${rec.urn}\0${tag.file}`, meta);
        if (!shared && !got.error) {
          staging.file(path.join("artifacts", tag.file), got.text);
          writtenBy.set(tag.file, rec.urn);
        }
      }
    }

    try {
      await runProgram(opts.entry ?? path.join(PROJECT_DIR, "index.ts"));
    } catch (e) {
      if (!isConfigError(e)) throw e;
      configError = e;
    }
    if (configError) throw new PlanConfigError(configError.problems);
    if (registerError) throw registerError;
    trace("registered", started);
    if (process.env.ESTATE_PLAN_HEAPSNAPSHOT) {
      // Debug: what is still alive once every resource is registered (tools/heap.ts reads it).
      v8.writeHeapSnapshot(process.env.ESTATE_PLAN_HEAPSNAPSHOT);
    }

    staging.closeResources();
    writeJson(path.join(staging.dir, "outputs.json"), sanitize(recorder.stackOutputs ?? {}));

    const rows: { tag: ArtifactTag; urn: string; got: CapturedMeta }[] = [];
    for (const { resource, tag } of taggedArtifacts()) {
      const urn = await new Promise<string>((resolve) => resource.urn.apply(resolve));
      if (!recorder.byUrn(urn)) throw new Error(`artifact ${tag.file}: resource ${urn} was never registered`);
      const got = captures.get(`${urn}\0${tag.file}`);
      if (!got)
        throw new Error(
          `artifact ${tag.file}: ${urn} was tagged after it registered; tag a resource right after creating it`,
        );
      if (got.error) throw new Error(`artifact ${tag.file}: ${urn} ${got.error}`);
      if (got.text !== undefined) staging.file(path.join("artifacts", tag.file), got.text);
      else if (writtenBy.get(tag.file) !== urn)
        throw new Error(
          `artifact ${tag.file}: ${urn} and ${writtenBy.get(tag.file)} both wrote it; give each its own file`,
        );
      rows.push({ tag, urn, got });
    }
    await staging.flush();
    const index: ArtifactEntry[] = rows.map(({ tag, urn, got }) => {
      const sha256 = got.clean ? staging.sha256(path.join("artifacts", tag.file)) : undefined;
      if (got.clean && !sha256) throw new Error(`artifact ${tag.file}: ${urn} was not written`);
      return {
        path: tag.file,
        kind: tag.kind,
        format: tag.format ?? "text",
        target: tag.target,
        urn,
        property: tag.property,
        ...(sha256 ? { sha256 } : {}),
        ...(got.secret ? { secret: true } : {}),
        ...(got.unknown ? { unknown: true } : {}),
      };
    });
    trace("artifacts", started);
    index.sort((a, b) => a.path.localeCompare(b.path));
    writeJson(path.join(staging.dir, "artifacts", "INDEX.json"), index);

    let tree = previewTree(recorder.resources, opts.stack);
    if (config.placeholders.length)
      tree += `\nSecrets replaced by placeholders (offline): ${config.placeholders.join(", ")}\n`;
    fs.writeFileSync(path.join(staging.dir, "preview.txt"), tree);
    await staging.commit();
    committed = true;
    trace("done", started);

    return {
      resources: recorder.resources.length,
      artifacts: index.length,
      placeholders: config.placeholders,
      seconds: Number(process.hrtime.bigint() - started) / 1e9,
    };
  } finally {
    if (!committed) await staging.discard();
    process.off("unhandledRejection", onRejection);
  }
}

/**
 * Heap growth allowed past the live set at the last full collection, in percent (V8's
 * default: up to ~300). 25 kept the peak closest to the live set (543-558 MiB at 1,000
 * servers) at the cost of a full collection every ~25% of growth; 60 with the larger young
 * generation below: ~20% less wall time for ~+80 MiB (tools/bench.ts).
 */
const HEAP_GROWING_PERCENT = 60;

/**
 * V8's young generation up to 64 MiB a semi-space (default 16): a registration's objects
 * live through a few scavenges, and with small semi-spaces each survivor is copied twice
 * and promoted into the old space, which then needs full collections. At 1,000 servers,
 * interleaved runs (3 each, on tmpfs): 32 MiB and 25% growth 9.7-11.3 s, 580 MiB peak;
 * 64 MiB and 60% 8.0-8.7 s, 655 MiB; 128 MiB and 60% 8.1-8.7 s, 770-800 MiB.
 * `npm run plan` passes it too.
 */
export const PLAN_NODE_FLAGS = ["--max-semi-space-size=64"] as const;

/**
 * The arguments for `node` that run this plan in a process of its own (tests, benchmark).
 * `--swc`: ts-node transpiles with @swc/core (no type check, as --transpile-only), ~3 s
 * less for the whole program than TypeScript's own transpiler; the plan is byte-identical.
 */
export function planProcessArgs(stack: string, out: string, stackFile?: string): string[] {
  return [
    ...PLAN_NODE_FLAGS,
    require.resolve("ts-node/dist/bin.js"),
    "--swc",
    path.join(PROJECT_DIR, "tools", "plan.ts"),
    "--stack",
    stack,
    "--out",
    out,
    ...(stackFile ? ["--stack-file", stackFile] : []),
  ];
}

async function main(): Promise<void> {
  const cli = new Command()
    .name("npm run plan --")
    .description("Offline plan of a stack: the program under mocks, every resource and artifact to files")
    .requiredOption("-s, --stack <name>", "stack name (reads Pulumi.<name>.yaml)")
    .option("-o, --out <dir>", "output folder (default plan/<stack>)")
    .option("--stack-file <file>", "read the stack config from this file instead of Pulumi.<stack>.yaml")
    .parse();
  const o = cli.opts<{ stack: string; out?: string; stackFile?: string }>();
  const out = o.out ?? path.join("plan", o.stack);
  // V8 lets the heap grow to several times what was live at its last full collection; the
  // plan's garbage (finished registrations) then piles up to ~4x the live set. Collect at
  // 1.6x instead: the peak follows the live set (README, "The offline plan").
  const growing = Number(process.env.ESTATE_PLAN_HEAP_GROWING_PERCENT ?? HEAP_GROWING_PERCENT);
  v8.setFlagsFromString(`--heap-growing-percent=${growing}`);
  try {
    const s = await plan({ stack: o.stack, out, stackFile: o.stackFile });
    const rss = process.resourceUsage().maxRSS / 1024;
    console.log(`plan ${o.stack}: ${s.resources} resources, ${s.artifacts} artifacts -> ${out}`);
    console.log(`figure plan.${o.stack}.seconds ${s.seconds.toFixed(2)} s`);
    console.log(`figure plan.${o.stack}.peak_rss ${rss.toFixed(0)} MiB`);
    console.log(`figure plan.${o.stack}.resources ${s.resources} resources`);
    console.log(`figure plan.${o.stack}.peak_per_resource ${((rss * 1024) / s.resources).toFixed(0)} KiB`);
  } catch (e) {
    if (e instanceof PlanConfigError) {
      for (const p of e.problems) console.error(p);
      process.exit(1);
    }
    if (e instanceof StackFileError) {
      console.error(e.message);
      process.exit(1);
    }
    console.error(`plan ${o.stack}: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  }
  // The SDK keeps handles open under mocks; the plan is complete here.
  process.exit(0);
}

if (require.main === module) void main();
