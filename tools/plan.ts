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
import { sha256 } from "../components/shared/remote";
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
  private readonly byKey = new Map<string, ArtifactTag[]>();
  private indexed = 0;

  candidates(type: string, name: string): readonly ArtifactTag[] {
    const all = taggedArtifacts();
    for (; this.indexed < all.length; this.indexed++) {
      const { resource, tag } = all[this.indexed];
      const r = resource as unknown as { __pulumiType?: string; __name?: string };
      const key = `${r.__pulumiType}\0${r.__name}`;
      const list = this.byKey.get(key);
      if (list) list.push(tag);
      else this.byKey.set(key, [tag]);
    }
    return this.byKey.get(`${type}\0${name}`) ?? [];
  }
}

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
  return `  ${JSON.stringify(entry, null, 2).replace(/\n/g, "\n  ")}`;
}

export async function plan(opts: PlanOptions): Promise<PlanSummary> {
  const started = process.hrtime.bigint();
  trace("start", started);
  const config = readStackConfig(PROJECT_DIR, opts.stack, opts.stackFile);

  // What the files need is taken as each resource registers; its inputs are then garbage.
  const resourceChunks: string[] = [];
  const captures = new Map<string, Captured>();
  clearArtifactTags();
  const tagIndex = new TagIndex();
  const recorder = installMocks(opts.stack, config, true, {
    keepInputs: false,
    onRegister: (rec, wireInputs) => {
      resourceChunks.push(resourceJson(rec));
      const tags = tagIndex.candidates(rec.type, rec.name);
      // The wire form keeps a secret inside an object at its place, so only that part is hidden.
      const inputs = tags.length ? wireInputs() : {};
      for (const tag of tags) captures.set(`${rec.urn}\0${tag.file}`, captureArtifact(inputs, tag));
    },
  });

  let configError: (Error & { problems: string[] }) | undefined;
  const onRejection = (e: unknown): void => {
    if (isConfigError(e)) configError = e;
    else throw e;
  };
  process.on("unhandledRejection", onRejection);
  try {
    await runProgram(opts.entry ?? path.join(PROJECT_DIR, "index.ts"));
  } catch (e) {
    if (!isConfigError(e)) throw e;
    configError = e;
  } finally {
    process.off("unhandledRejection", onRejection);
  }
  if (configError) throw new PlanConfigError(configError.problems);
  trace("registered", started);
  if (process.env.ESTATE_PLAN_HEAPSNAPSHOT) {
    // Debug: what is still alive once every resource is registered (tools/heap.ts reads it).
    v8.writeHeapSnapshot(process.env.ESTATE_PLAN_HEAPSNAPSHOT);
  }

  const out = path.resolve(opts.out);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(path.join(out, "artifacts"), { recursive: true });

  const fd = fs.openSync(path.join(out, "resources.json"), "w");
  try {
    if (resourceChunks.length === 0) fs.writeSync(fd, "[]\n");
    else {
      fs.writeSync(fd, "[\n");
      resourceChunks.forEach((c, i) => fs.writeSync(fd, i === 0 ? c : `,\n${c}`));
      fs.writeSync(fd, "\n]\n");
    }
  } finally {
    fs.closeSync(fd);
  }
  resourceChunks.length = 0;
  writeJson(path.join(out, "outputs.json"), sanitize(recorder.stackOutputs ?? {}));
  trace("resources.json", started);

  const index: ArtifactEntry[] = [];
  const dirs = new Set<string>();
  for (const { resource, tag } of taggedArtifacts()) {
    const urn = await new Promise<string>((resolve) => resource.urn.apply(resolve));
    if (!recorder.byUrn(urn)) throw new Error(`artifact ${tag.file}: resource ${urn} was never registered`);
    const got = captures.get(`${urn}\0${tag.file}`);
    if (!got)
      throw new Error(
        `artifact ${tag.file}: ${urn} was tagged after it registered; tag a resource right after creating it`,
      );
    if (got.error) throw new Error(`artifact ${tag.file}: ${urn} ${got.error}`);
    const file = path.join(out, "artifacts", tag.file);
    const dir = path.dirname(file);
    if (!dirs.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      dirs.add(dir);
    }
    fs.writeFileSync(file, got.text);
    index.push({
      path: tag.file,
      kind: tag.kind,
      format: tag.format ?? "text",
      target: tag.target,
      urn,
      property: tag.property,
      ...(got.secret || got.unknown ? {} : { sha256: sha256(got.text) }),
      ...(got.secret ? { secret: true } : {}),
      ...(got.unknown ? { unknown: true } : {}),
    });
  }
  trace("artifacts", started);
  index.sort((a, b) => a.path.localeCompare(b.path));
  writeJson(path.join(out, "artifacts", "INDEX.json"), index);

  let tree = previewTree(recorder.resources, opts.stack);
  if (config.placeholders.length)
    tree += `\nSecrets replaced by placeholders (offline): ${config.placeholders.join(", ")}\n`;
  fs.writeFileSync(path.join(out, "preview.txt"), tree);
  trace("done", started);

  return {
    resources: recorder.resources.length,
    artifacts: index.length,
    placeholders: config.placeholders,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

/** Heap growth allowed past the live set at the last full collection, in percent (V8's default: up to ~300). */
const HEAP_GROWING_PERCENT = 25;

/** The arguments for `node` that run this plan in a process of its own (tests, benchmark). */
export function planProcessArgs(stack: string, out: string, stackFile?: string): string[] {
  return [
    require.resolve("ts-node/dist/bin.js"),
    "--transpile-only",
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
  // 1.25x instead: the peak follows the live set (README, "The offline plan").
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
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
