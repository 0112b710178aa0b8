/**
 * Writes a synthetic stack file:
 *   npm run synth -- --servers N --racks R [--spines S] --out Pulumi.<name>.yaml
 */
import * as fs from "fs";
import * as path from "path";
import { Command, InvalidArgumentError } from "commander";
import * as yaml from "js-yaml";
import { synthesize } from "./synth-estate";

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

export function writeSynthStack(file: string, servers: number, racks: number, spines?: number): void {
  const name = path.basename(file).replace(/^Pulumi\.|\.yaml$/g, "");
  const config = synthesize({ servers, racks, spines, name });
  const head = `# Synthetic estate: ${servers} servers, ${racks} racks, ${spines ?? 2} spines (npm run synth). Host keys are derived, not real.\n`;
  fs.writeFileSync(file, head + yaml.dump({ config }, { lineWidth: 200, noRefs: true }));
}

if (require.main === module) {
  const o = new Command()
    .name("npm run synth --")
    .requiredOption("--servers <n>", "number of servers", positiveInt)
    .requiredOption("--racks <n>", "number of racks (two leaves each)", positiveInt)
    .option("--spines <n>", "number of spines (default 2)", positiveInt)
    .requiredOption("--out <file>", "stack file to write, e.g. Pulumi.synth.yaml")
    .parse()
    .opts<{ servers: number; racks: number; spines?: number; out: string }>();
  try {
    writeSynthStack(o.out, o.servers, o.racks, o.spines);
    console.log(`wrote ${o.out}: ${o.servers} servers, ${o.racks} racks`);
  } catch (e) {
    console.error(`synth: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
