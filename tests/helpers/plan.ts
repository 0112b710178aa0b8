/**
 * Runs the offline plan in a child process (its own Pulumi runtime and mocks) and reads
 * what it wrote. Plans are cached per stack and stack file within one test process.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { type ArtifactEntry, planProcessArgs } from "../../tools/plan";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

export interface PlannedResource {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly parent: string;
  readonly provider: string;
  readonly dependencies: readonly string[];
  readonly inputs: Record<string, unknown>;
}

export interface PlanResult {
  readonly dir: string;
  readonly resources: PlannedResource[];
  readonly outputs: Record<string, unknown>;
  readonly index: ArtifactEntry[];
  readonly stdout: string;
  /** The text of an artifact by its INDEX path. */
  artifact(p: string): string;
  /** The artifacts of one kind. */
  ofKind(kind: string): ArtifactEntry[];
}

const cache = new Map<string, PlanResult>();

/**
 * Plans `stack` (from Pulumi.<stack>.yaml, or `stackFile`) into a fresh temporary folder;
 * `env` adds environment variables for the plan's process (e.g. ESTATE_PLAN_FULL_RUNTIME).
 */
export function planStack(stack: string, stackFile?: string, env: Record<string, string> = {}): PlanResult {
  const key = `${stack}\0${stackFile ?? ""}\0${JSON.stringify(env)}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `estate-plan-${stack}-`));
  const stdout = execFileSync(process.execPath, planProcessArgs(stack, dir, stackFile), {
    cwd: PROJECT_DIR,
    encoding: "utf8",
    stdio: "pipe",
    env: { ...process.env, ...env },
  });
  const read = (f: string): unknown => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
  const index = read("artifacts/INDEX.json") as ArtifactEntry[];
  const result: PlanResult = {
    dir,
    resources: read("resources.json") as PlannedResource[],
    outputs: read("outputs.json") as Record<string, unknown>,
    index,
    stdout,
    artifact: (p) => fs.readFileSync(path.join(dir, "artifacts", p), "utf8"),
    ofKind: (kind) => index.filter((e) => e.kind === kind),
  };
  cache.set(key, result);
  return result;
}

/** Runs the plan expecting failure; returns exit code and stderr. */
export function planFailure(
  stack: string,
  stackFile: string,
): { status: number; stderr: string; stdout: string; out: string } {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "estate-plan-fail-"));
  try {
    execFileSync(process.execPath, planProcessArgs(stack, out, stackFile), {
      cwd: PROJECT_DIR,
      encoding: "utf8",
      stdio: "pipe",
    });
  } catch (e) {
    const err = e as { status: number; stderr: string; stdout: string };
    return { status: err.status, stderr: err.stderr, stdout: err.stdout, out };
  }
  throw new Error(`plan of ${stackFile} succeeded; expected it to fail`);
}
