/**
 * Reading stack outputs for the ops commands: `pulumi stack output --json --show-secrets`
 * from stdin or a file, held to the contract (ops/outputs.schema.json) before any command
 * looks at them. Every violation is one line naming the field's path.
 */
import * as fs from "fs";
import type { StackOutputs } from "./contract";
import { outputProblems } from "./check-outputs";

/** A refusal the CLI prints as it is (one line per problem) and exits 1 for. */
export class OpsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
  }
}

/** Parses and validates outputs text; throws OpsError naming each bad field (`outputs/<path>: ...`). */
export function parseOutputs(text: string, source: string): StackOutputs {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new OpsError([
      `${source}: not JSON (${(e as Error).message}); pipe \`pulumi stack output --json --show-secrets\``,
    ]);
  }
  const problems = outputProblems(json);
  if (problems.length)
    throw new OpsError(problems.map((p) => `${source}: outputs${p.startsWith("/: ") ? p.slice(1) : p}`));
  return json as StackOutputs;
}

/** The outputs from `--file` or, without it, stdin. */
export function readOutputs(file: string | undefined): StackOutputs {
  const source = file ?? "stdin";
  let text: string;
  try {
    text = fs.readFileSync(file ?? 0, "utf8");
  } catch (e) {
    throw new OpsError([`${source}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`]);
  }
  return parseOutputs(text, source);
}

/** A value the offline plan or `pulumi stack output` without --show-secrets prints instead of the real one. */
export function placeholder(v: unknown): string | undefined {
  if (v === "[secret]") return "a secret not shown: run `pulumi stack output --json --show-secrets`";
  if (v === "[unknown]") return "unknown until `pulumi up` ran (an offline plan's outputs?)";
  return undefined;
}
