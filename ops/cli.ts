/**
 * Ops commands on the stack outputs:
 *
 *   pulumi stack output --json --show-secrets -s prod > outputs.json
 *   npm run ops -- inventory --out ~/.estate/prod < outputs.json
 *   npm run ops -- kubeconfig --out ~/.kube/estate-prod --file outputs.json
 *   npm run ops -- health --file outputs.json [--ca ca.pem] [--timeout 5000]
 *   npm run ops -- fabric --file outputs.json [--bgp leaf-1a=leaf-1a.json ...] [--bgp-dir dir]
 *   npm run ops -- ceph --file outputs.json --pools pools.json [--rules rules.json]
 *
 * Every command validates the outputs against the contract (ops/outputs.schema.json)
 * first and stops, naming each bad field, before it reads or writes anything else.
 * Exit status: 0 fine, 1 a refusal or a failed check, 2 a usage error.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Command, Option } from "commander";
import { compareCeph } from "./commands/ceph";
import { compareFabric, expectedText, type ObservedPeer, parseBgpSummary } from "./commands/fabric";
import { checkHealth, healthTable } from "./commands/health";
import { DEFAULT_IDENTITY_FILE, writeInventory } from "./commands/inventory";
import { writeKubeconfig } from "./commands/kubeconfig";
import { OpsError, readOutputs } from "./read";

/** `~` and `~/...` as a shell would expand them (npm passes the argument unexpanded when quoted). */
function expandHome(p: string): string {
  return p === "~" ? os.homedir() : p.startsWith("~/") ? path.join(os.homedir(), p.slice(2)) : p;
}

function readText(file: string, option: string): string {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new OpsError([
      `${option} ${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    ]);
  }
}

const fileOption = (): Option =>
  new Option(
    "-f, --file <outputs.json>",
    "the outputs of `pulumi stack output --json --show-secrets` (default: stdin)",
  );

export function program(): Command {
  const cli = new Command()
    .name("npm run ops --")
    .description("Ops commands on the estate's stack outputs (validated against ops/outputs.schema.json first)")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  cli
    .command("inventory")
    .description("write ssh_config, known_hosts (pinned host keys) and an Ansible inventory (hosts.yml) by role")
    .addOption(fileOption())
    .requiredOption("-o, --out <dir>", "the folder for the three files (created 0700)")
    .option("-i, --identity-file <path>", "the private key ssh offers", DEFAULT_IDENTITY_FILE)
    .action((o: { file?: string; out: string; identityFile: string }) => {
      const outputs = readOutputs(o.file);
      const dir = path.resolve(expandHome(o.out));
      for (const f of writeInventory(outputs, { dir, identityFile: o.identityFile })) console.log(`wrote ${f}`);
      console.log(`ssh -F ${path.join(dir, "ssh_config")} ${outputs.nodes[0].name}`);
    });

  cli
    .command("kubeconfig")
    .description("write the admin kubeconfig (mode 0600); another cluster's file is kept unless --force")
    .addOption(fileOption())
    .requiredOption("-o, --out <file>", "where to write it, e.g. ~/.kube/estate-prod")
    .option("--force", "replace a file that holds another cluster", false)
    .action((o: { file?: string; out: string; force: boolean }) => {
      const outputs = readOutputs(o.file);
      const r = writeKubeconfig(outputs, path.resolve(expandHome(o.out)), o.force);
      console.log(`${r.action} ${r.file} (0600)`);
    });

  cli
    .command("health")
    .description("check the VIP (HTTPS), the Kubernetes API, Grafana and every RGW endpoint, in parallel")
    .addOption(fileOption())
    .option("-t, --timeout <ms>", "per check", "5000")
    .option("--ca <pem>", "trust this CA too (VIP, Grafana)")
    .option("--tls-name <name>", "the name the VIP's certificate must carry (default: the site's domain)")
    .option("--grafana <url>", "Grafana's base URL when the outputs carry none")
    .action(async (o: { file?: string; timeout: string; ca?: string; tlsName?: string; grafana?: string }) => {
      const outputs = readOutputs(o.file);
      const timeoutMs = Number(o.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600000)
        throw new OpsError([
          `--timeout: ${JSON.stringify(o.timeout)} is not a whole number of milliseconds (1-600000)`,
        ]);
      const ca = o.ca ? readText(o.ca, "--ca") : undefined;
      const results = await checkHealth(outputs, { timeoutMs, ca, tlsName: o.tlsName, grafanaUrl: o.grafana });
      console.log(healthTable(results));
      if (results.some((r) => r.status === "FAIL")) process.exitCode = 1;
    });

  cli
    .command("fabric")
    .description("the expected BGP sessions per switch and server; with --bgp/--bgp-dir, what is missing or unexpected")
    .addOption(fileOption())
    .option(
      "--bgp <host=file>",
      "`vtysh -c 'show bgp summary json'` of a host (repeatable)",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option("--bgp-dir <dir>", "a folder of <host>.json summaries")
    .action((o: { file?: string; bgp: string[]; bgpDir?: string }) => {
      const outputs = readOutputs(o.file);
      const observed = new Map<string, Map<string, ObservedPeer>>();
      const add = (host: string, file: string, option: string): void => {
        if (observed.has(host)) throw new OpsError([`${option}: ${host} given twice`]);
        observed.set(host, parseBgpSummary(readText(file, option), file));
      };
      for (const spec of o.bgp) {
        const eq = spec.indexOf("=");
        if (eq < 1) throw new OpsError([`--bgp: ${JSON.stringify(spec)} is not <host>=<file>`]);
        add(spec.slice(0, eq), spec.slice(eq + 1), "--bgp");
      }
      if (o.bgpDir)
        for (const f of fs
          .readdirSync(o.bgpDir)
          .filter((x) => x.endsWith(".json"))
          .sort())
          add(f.slice(0, -5), path.join(o.bgpDir, f), "--bgp-dir");
      const report = compareFabric(outputs, observed);
      if (!observed.size) {
        console.log(expectedText(report.expected));
        return;
      }
      const checked = [...observed.keys()].sort();
      for (const p of report.problems) console.log(p);
      console.log(
        `fabric: ${report.problems.length} problem(s) on ${checked.length} host(s) checked (${checked.join(", ")})` +
          (report.unchecked.length ? `; not checked: ${report.unchecked.join(", ")}` : ""),
      );
      if (report.problems.length) process.exitCode = 1;
    });

  cli
    .command("ceph")
    .description("the planned RBD pools (size, min_size, device class) against the cluster's own view")
    .addOption(fileOption())
    .requiredOption("--pools <file>", "`ceph osd pool ls detail -f json`")
    .option("--rules <file>", "`ceph osd crush rule dump -f json` (checks device classes)")
    .action((o: { file?: string; pools: string; rules?: string }) => {
      const outputs = readOutputs(o.file);
      const rules = o.rules ? readText(o.rules, "--rules") : undefined;
      const report = compareCeph(outputs, readText(o.pools, "--pools"), o.pools, rules, o.rules);
      for (const n of report.notes) console.log(`note: ${n}`);
      for (const p of report.problems) console.log(p);
      console.log(`ceph: ${report.problems.length} problem(s) in ${outputs.ceph.pools.length} planned pool(s)`);
      if (report.problems.length) process.exitCode = 1;
    });
  return cli;
}

/** Runs the CLI on `argv` (user arguments only); returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  process.exitCode = 0;
  try {
    await program().parseAsync([...argv], { from: "user" });
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof OpsError) {
      for (const p of e.problems) console.error(p);
      return 1;
    }
    const c = e as { code?: string; exitCode?: number };
    if (typeof c.code === "string" && c.code.startsWith("commander.")) {
      return c.code === "commander.helpDisplayed" || c.code === "commander.version" ? 0 : 2;
    }
    console.error(e instanceof Error ? e.message : String(e));
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
