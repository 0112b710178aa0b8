/**
 * `kubeconfig`: writes the admin kubeconfig (the secret output `kubeconfig`) with mode
 * 0600. An existing file for another cluster (another cluster name or API server) is left
 * alone unless `--force`: overwriting it would silently point kubectl at a different cluster.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import type { StackOutputs } from "../contract";
import { OpsError, placeholder } from "../read";

interface Kubeconfig {
  clusters?: { name?: unknown; cluster?: { server?: unknown } }[];
}

/** The (name, server) pairs of a kubeconfig's clusters, sorted; throws when it has none. */
export function clustersOf(text: string, source: string): string[] {
  let doc: Kubeconfig;
  try {
    doc = (yaml.load(text, { schema: yaml.JSON_SCHEMA }) ?? {}) as Kubeconfig;
  } catch (e) {
    throw new OpsError([`${source}: not YAML (${(e as Error).message.split("\n")[0]})`]);
  }
  const clusters = Array.isArray(doc.clusters) ? doc.clusters : [];
  const pairs = clusters
    .filter((c) => typeof c?.name === "string" && typeof c?.cluster?.server === "string")
    .map((c) => `${c.name as string} ${c.cluster!.server as string}`);
  if (!pairs.length) throw new OpsError([`${source}: no cluster with a name and a server`]);
  return pairs.sort();
}

export interface KubeconfigResult {
  readonly file: string;
  readonly action: "created" | "updated" | "replaced";
}

export function writeKubeconfig(o: StackOutputs, file: string, force = false): KubeconfigResult {
  const why = placeholder(o.kubeconfig);
  if (why) throw new OpsError([`outputs/kubeconfig: ${why}`]);
  const next = clustersOf(o.kubeconfig, "outputs/kubeconfig");
  let action: KubeconfigResult["action"] = "created";
  if (fs.existsSync(file)) {
    let current: string[] | undefined;
    try {
      current = clustersOf(fs.readFileSync(file, "utf8"), file);
    } catch {
      current = undefined;
    }
    const same = current !== undefined && current.join("\n") === next.join("\n");
    if (!same && !force)
      throw new OpsError([
        `${file}: holds ${current ? `cluster ${current.join(", ")}` : "no readable kubeconfig"}, not ${next.join(", ")} of stack ${o.site.stack}; choose another --out, or --force to replace it`,
      ]);
    action = same ? "updated" : "replaced";
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, o.kubeconfig, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
  return { file, action };
}
