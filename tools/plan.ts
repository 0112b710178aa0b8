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
import { Command } from "commander";
import { taggedArtifacts } from "../components/shared/artifacts";
import { sha256 } from "../components/shared/remote";
import { inputAt, installMocks, type RecordedResource, runProgram, sanitize } from "./harness";
import { readStackConfig } from "./stackconfig";

const PROJECT_DIR = path.resolve(__dirname, "..");

export interface PlanOptions {
  readonly stack: string;
  readonly out: string;
  readonly stackFile?: string;
}

export interface ArtifactEntry {
  readonly path: string;
  readonly kind: string;
  readonly target: string;
  readonly urn: string;
  readonly property: string;
  readonly sha256?: string;
  /** The input is secret: the file holds "[secret]", never the value. */
  readonly secret?: boolean;
  /** The input is not known until deployment (it depends on another resource's output). */
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
  for (const r of resources) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
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

export async function plan(opts: PlanOptions): Promise<PlanSummary> {
  const started = process.hrtime.bigint();
  const config = readStackConfig(PROJECT_DIR, opts.stack, opts.stackFile);
  const recorder = installMocks(opts.stack, config, true);

  let configError: (Error & { problems: string[] }) | undefined;
  const onRejection = (e: unknown): void => {
    if (isConfigError(e)) configError = e;
    else throw e;
  };
  process.on("unhandledRejection", onRejection);
  try {
    await runProgram(path.join(PROJECT_DIR, "index.ts"));
  } catch (e) {
    if (!isConfigError(e)) throw e;
    configError = e;
  } finally {
    process.off("unhandledRejection", onRejection);
  }
  if (configError) throw new PlanConfigError(configError.problems);

  const out = path.resolve(opts.out);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(path.join(out, "artifacts"), { recursive: true });

  writeJson(
    path.join(out, "resources.json"),
    recorder.resources.map((r) => ({
      urn: r.urn,
      type: r.type,
      name: r.name,
      parent: r.parent,
      provider: r.provider,
      dependencies: r.dependencies,
      inputs: sanitize(r.rawInputs),
    })),
  );
  writeJson(path.join(out, "outputs.json"), sanitize(recorder.stackOutputs ?? {}));

  const index: ArtifactEntry[] = [];
  for (const { resource, tag } of taggedArtifacts()) {
    const urn = await new Promise<string>((resolve) => resource.urn.apply(resolve));
    const rec = recorder.byUrn(urn);
    if (!rec) throw new Error(`artifact ${tag.file}: resource ${urn} was never registered`);
    const { value, secret, unknown } = inputAt(rec.rawInputs, tag.property);
    if (!unknown && typeof value !== "string")
      throw new Error(`artifact ${tag.file}: ${urn} input '${tag.property}' is not text`);
    const file = path.join(out, "artifacts", tag.file);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const text = secret ? "[secret]\n" : unknown ? "[unknown]\n" : (value as string);
    fs.writeFileSync(file, text);
    index.push({
      path: tag.file,
      kind: tag.kind,
      target: tag.target,
      urn,
      property: tag.property,
      ...(secret || unknown ? {} : { sha256: sha256(text) }),
      ...(secret ? { secret: true } : {}),
      ...(unknown ? { unknown: true } : {}),
    });
  }
  index.sort((a, b) => a.path.localeCompare(b.path));
  writeJson(path.join(out, "artifacts", "INDEX.json"), index);

  let tree = previewTree(recorder.resources, opts.stack);
  if (config.placeholders.length)
    tree += `\nSecrets replaced by placeholders (offline): ${config.placeholders.join(", ")}\n`;
  fs.writeFileSync(path.join(out, "preview.txt"), tree);

  return {
    resources: recorder.resources.length,
    artifacts: index.length,
    placeholders: config.placeholders,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

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
  try {
    const s = await plan({ stack: o.stack, out, stackFile: o.stackFile });
    const rss = process.resourceUsage().maxRSS / 1024;
    console.log(`plan ${o.stack}: ${s.resources} resources, ${s.artifacts} artifacts -> ${out}`);
    console.log(`figure plan.${o.stack}.seconds ${s.seconds.toFixed(2)} s`);
    console.log(`figure plan.${o.stack}.peak_rss ${rss.toFixed(0)} MiB`);
    console.log(`figure plan.${o.stack}.resources ${s.resources} resources`);
  } catch (e) {
    if (e instanceof PlanConfigError) {
      for (const p of e.problems) console.error(p);
      process.exit(1);
    }
    console.error(`plan ${o.stack}: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(2);
  }
  // The SDK keeps handles open under mocks; the plan is complete here.
  process.exit(0);
}

if (require.main === module) void main();
