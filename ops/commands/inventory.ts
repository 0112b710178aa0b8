/**
 * `inventory`: an OpenSSH client config, the known_hosts it pins, and an Ansible inventory
 * (YAML) grouped by role, for every server and switch of the stack.
 *
 * Each host is a `Host <name>` block with its address, port and user, and
 * `HostKeyAlias <name>.<domain>`: the host key is looked up under that alias in the
 * generated known_hosts only (`StrictHostKeyChecking yes`, the global file off, no host key
 * updates), so a host whose key is not the pinned one is refused, whatever port it listens
 * on. The Ansible inventory names the same hosts and points ssh at this config.
 *
 * Values come from validated outputs (names are DNS labels, host keys one `<type> <base64>`
 * line), and paths written into the config are checked too: nothing here can inject a
 * directive or a line.
 */
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import type { StackOutputs } from "../contract";
import { OpsError } from "../read";

export interface InventoryOptions {
  /** Absolute path of the folder the files go to (the config refers to known_hosts by it). */
  readonly dir: string;
  /** The private key ssh offers (`IdentityFile`). @default "~/.ssh/estate_ed25519" */
  readonly identityFile?: string;
}

export interface InventoryFiles {
  readonly ssh_config: string;
  readonly known_hosts: string;
  readonly "hosts.yml": string;
}

interface Host {
  readonly name: string;
  readonly kind: "server" | "switch";
  readonly groups: readonly string[];
  readonly ssh: { host: string; port: number; user: string; hostKey: string };
  readonly vars: Record<string, unknown>;
}

export const DEFAULT_IDENTITY_FILE = "~/.ssh/estate_ed25519";

/**
 * A path for ssh_config: double-quoted, `%` doubled (ssh expands `%` tokens in these
 * options); a quote, a backslash or a control character cannot be written safely and is refused.
 */
export function sshConfigPath(option: string, p: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (/["\\\x00-\x1f\x7f]/.test(p) || p.length === 0)
    throw new OpsError([
      `--${option}: ${JSON.stringify(p)} has a quote, backslash or control character; use a plain path`,
    ]);
  return `"${p.replace(/%/g, "%%")}"`;
}

/** Ansible group names: letters, digits and underscores. */
const group = (s: string): string => s.replace(/[^A-Za-z0-9_]/g, "_");

function hostsOf(o: StackOutputs): Host[] {
  const servers: Host[] = o.nodes.map((n) => ({
    name: n.name,
    kind: "server",
    groups: ["servers", ...n.roles.map(group), `rack_${group(n.rack)}`],
    ssh: n.ssh,
    vars: {
      estate_mgmt_address: n.mgmtAddress,
      estate_loopback: n.loopback,
      estate_rack: n.rack,
      estate_roles: [...n.roles],
      ...(typeof n.facts === "object" ? { estate_facts: n.facts } : {}),
    },
  }));
  const switches: Host[] = o.switches.map((s) => ({
    name: s.name,
    kind: "switch",
    groups: ["switches", s.role],
    ssh: s.ssh,
    vars: { estate_mgmt_address: s.mgmtAddress, estate_role: s.role },
  }));
  return [...servers, ...switches];
}

/** The three files' text; pure. */
export function renderInventory(o: StackOutputs, opts: InventoryOptions): InventoryFiles {
  if (!path.isAbsolute(opts.dir)) throw new Error(`inventory dir ${opts.dir} must be absolute`);
  const knownHostsPath = sshConfigPath("out", path.join(opts.dir, "known_hosts"));
  const identity = sshConfigPath("identity-file", opts.identityFile ?? DEFAULT_IDENTITY_FILE);
  const hosts = hostsOf(o);
  const names = new Set<string>();
  for (const h of hosts) {
    if (names.has(h.name)) throw new OpsError([`outputs: host name ${h.name} appears twice (nodes and switches)`]);
    names.add(h.name);
  }
  const alias = (h: Host): string => `${h.name}.${o.site.domain}`;
  const header = `# estate ${o.site.stack} (outputs schema ${o.schemaVersion}): written by \`npm run ops -- inventory\`; do not edit.`;

  const config = [
    header,
    `# Use: ssh -F ${path.join(opts.dir, "ssh_config")} <host>`,
    "",
    ...hosts.flatMap((h) => [
      `Host ${h.name}`,
      `  HostName ${h.ssh.host}`,
      `  Port ${h.ssh.port}`,
      `  User ${h.ssh.user}`,
      `  IdentityFile ${identity}`,
      "  IdentitiesOnly yes",
      `  HostKeyAlias ${alias(h)}`,
      "  StrictHostKeyChecking yes",
      `  UserKnownHostsFile ${knownHostsPath}`,
      "  GlobalKnownHostsFile /dev/null",
      "  UpdateHostKeys no",
      "  PasswordAuthentication no",
      "",
    ]),
  ].join("\n");

  const knownHosts = [header, ...hosts.map((h) => `${alias(h)} ${h.ssh.hostKey}`), ""].join("\n");

  const groups = new Map<string, string[]>();
  for (const h of hosts)
    for (const g of h.groups) {
      const list = groups.get(g) ?? [];
      list.push(h.name);
      groups.set(g, list);
    }
  const inventory = {
    all: {
      vars: {
        ansible_ssh_common_args: `-F '${path.join(opts.dir, "ssh_config").replace(/'/g, "'\\''")}'`,
        estate_stack: o.site.stack,
        estate_domain: o.site.domain,
      },
      hosts: Object.fromEntries(hosts.map((h) => [h.name, { ansible_host: h.name, ...h.vars }])),
      children: Object.fromEntries(
        [...groups.keys()].sort().map((g) => [g, { hosts: Object.fromEntries(groups.get(g)!.map((n) => [n, null])) }]),
      ),
    },
  };
  const hostsYml = `${header}\n${yaml.dump(inventory, { noRefs: true, lineWidth: -1, sortKeys: false })}`;
  return { ssh_config: config, known_hosts: knownHosts, "hosts.yml": hostsYml };
}

/** Renders everything first, then writes each file atomically (temporary file, rename); the folder 0700. */
export function writeInventory(o: StackOutputs, opts: InventoryOptions): string[] {
  const files = renderInventory(o, opts);
  fs.mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(opts.dir, name);
    const tmp = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, text, { mode: 0o600 });
    fs.renameSync(tmp, file);
    written.push(file);
  }
  return written;
}
