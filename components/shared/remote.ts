/**
 * Running rendered scripts on a host over SSH, the one way every component does it.
 *
 * The script travels as the command's stdin (`bash -s`), so the command string stays a
 * short, reviewable constant and nothing secret is ever inside it. `update` equals
 * `create`, so a changed payload reruns the command in place.
 *
 * Replacement and `delete` do not mix: @pulumi/command forces a replace whenever
 * `triggers` change (its SDK sets `replaceOnChanges: ["triggers[*]"]`, pulumi-command#855),
 * and a replace creates the new resource before deleting the old one, so the old
 * `delete` would undo what the new `create` just applied. Hence the rule, enforced below:
 * a command without `delete` carries its payload's hash in `triggers` (a replace only
 * reruns it); a command with `delete` has no `triggers` and is never replaced: its
 * payload (stdin) and, for a non-secret payload, the hash in a comment on the command
 * line arrive as an update.
 */
import { createHash } from "crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { SshEndpoint } from "../../config/model";
import { type ArtifactKind, tagArtifact } from "./artifacts";
import { shq } from "./shell";

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * How a component reaches a host over SSH: host, port, user and the pinned host key are
 * plain (a preview shows them); the private key is a secret Output. Only the node
 * components (`components/node`) build one; every other component takes it from them.
 */
export interface SshConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Pinned host public key, `<type> <base64>`; never trust-on-first-use. */
  readonly hostKey: string;
  readonly privateKey: pulumi.Output<string>;
  readonly dialErrorLimit: number;
  readonly perDialTimeout: number;
}

/** The SSH connection for a host: pinned host key, the private key marked secret. */
export function connectionFor(ssh: SshEndpoint, privateKey: pulumi.Input<string>): SshConnection {
  return {
    host: ssh.host,
    port: ssh.port,
    user: ssh.user,
    hostKey: ssh.hostKey,
    privateKey: pulumi.secret(privateKey),
    dialErrorLimit: 5,
    perDialTimeout: 15,
  };
}

/** Run as root: directly when logged in as root, else through passwordless sudo. */
export function asRoot(user: string, cmd: string): string {
  return user === "root" ? cmd : `sudo -n ${cmd}`;
}

/**
 * The one shape of every remote command here: a constant command string that reads its
 * payload from stdin, `update` equal to `create`, and a trigger from the payload's hash.
 * A secret payload or output: stdout/stderr secret and no logging.
 */
function stdinCommand(
  name: string,
  a: {
    connection: SshConnection;
    run: string;
    deleteCommand?: string;
    stdin: pulumi.Input<string>;
    /** The payload's hash: plain for a plain payload, a secret Output for a secret one. */
    hash: pulumi.Input<string>;
    /** More values that rerun the command; only for commands without `delete`. */
    extraTriggers?: readonly pulumi.Input<string>[];
    secret?: boolean;
  },
  opts: pulumi.CustomResourceOptions,
): command.remote.Command {
  let inputs: { create: string; update: string; delete?: string; triggers?: pulumi.Input<string>[] };
  if (a.deleteCommand) {
    if (a.extraTriggers?.length)
      throw new Error(
        `${name}: a command with a delete cannot take triggers (a trigger change replaces it, and the old delete would run after the new create)`,
      );
    const run = typeof a.hash === "string" ? `${a.run} # estate sha256 ${a.hash.slice(0, 16)}` : a.run;
    inputs = { create: run, update: run, delete: a.deleteCommand };
  } else {
    inputs = { create: a.run, update: a.run, triggers: [a.hash, ...(a.extraTriggers ?? [])] };
  }
  return new command.remote.Command(
    name,
    {
      connection: a.connection,
      ...inputs,
      stdin: a.stdin,
      ...(a.secret ? { logging: "none" as const } : {}),
    },
    { ...opts, ...(a.secret ? { additionalSecretOutputs: ["stdout", "stderr"] } : {}) },
  );
}

export interface RemoteScriptArgs {
  readonly connection: SshConnection;
  readonly user: string;
  /** The whole script; it must start with a shebang and `set -euo pipefail`. */
  readonly script: string;
  /** A self-contained command run when the resource is deleted (no stdin is sent then). */
  readonly deleteCommand?: string;
  /** Where the script lands in the offline plan's artifacts, and for which host. */
  readonly target: string;
  readonly file: string;
  /** Mark stdout/stderr secret and keep them out of the logs. @default false */
  readonly outputIsSecret?: boolean;
  /**
   * More values that rerun the script when they change, besides its own hash: the hashes
   * of files it applies. Not with `deleteCommand` (see above). @default []
   */
  readonly triggers?: readonly pulumi.Input<string>[];
}

export function remoteScript(
  name: string,
  args: RemoteScriptArgs,
  opts: pulumi.CustomResourceOptions,
): command.remote.Command {
  const cmd = stdinCommand(
    name,
    {
      connection: args.connection,
      run: asRoot(args.user, "bash -s"),
      deleteCommand: args.deleteCommand,
      stdin: args.script,
      hash: sha256(args.script),
      extraTriggers: args.triggers,
      secret: args.outputIsSecret,
    },
    opts,
  );
  tagArtifact(cmd, { kind: "shell", target: args.target, property: "stdin", file: args.file });
  if (args.deleteCommand) {
    tagArtifact(cmd, {
      kind: "shell",
      target: args.target,
      property: "delete",
      file: args.file.replace(/\.sh$/, ".delete.sh"),
    });
  }
  return cmd;
}

export interface RemoteFileArgs {
  readonly connection: SshConnection;
  readonly user: string;
  /** The file's whole content; sent as stdin, never inside the command string. */
  readonly content: pulumi.Input<string>;
  /** Absolute path on the host. */
  readonly path: string;
  /** Octal mode, e.g. "0644", or "0600" for keys. */
  readonly mode: string;
  /** @default "root:root" */
  readonly owner?: string;
  /** Shell run against the candidate file `"$new"` before it replaces the old one; non-zero aborts. */
  readonly check?: string;
  /** Shell run only when the content changed, after the file is in place (e.g. a reload). */
  readonly onChange?: string;
  /** Shell run when the resource is deleted. */
  readonly deleteCommand?: string;
  readonly target: string;
  /** Artifact path of the content under `artifacts/`; the install command lands beside it. */
  readonly file: string;
  readonly kind: ArtifactKind;
  /** The content is secret (a key): stdout/stderr secret, no logging, no artifact text. */
  readonly secret?: boolean;
  /** Hash of the content for `triggers`; required when `content` is an Output. */
  readonly contentHash?: pulumi.Input<string>;
}

/** A file mode as the digits chmod takes; anything else is a programming error. */
function octalMode(mode: string): string {
  if (!/^0?[0-7]{3}$/.test(mode)) throw new Error(`renderInstallFile: mode ${JSON.stringify(mode)} is not octal`);
  return mode;
}

/**
 * The shell that installs stdin as `path`: written to a temporary file beside it, checked,
 * moved into place atomically only when it differs, then `onChange`; if that fails, the
 * previous file is restored (and applied again) and the script fails. Idempotent.
 */
export function renderInstallFile(a: {
  path: string;
  mode: string;
  owner: string;
  check?: string;
  onChange?: string;
}): string {
  const dir = a.path.replace(/\/[^/]+$/, "") || "/";
  const p = shq(a.path);
  const head = [
    "set -euo pipefail",
    `mkdir -p ${shq(dir)}`,
    `new=$(mktemp ${shq(`${a.path}.estate.XXXXXX`)})`,
    `backup=""`,
    `trap 'rm -f "$new" "$backup"' EXIT`,
    `cat >"$new"`,
    `chmod ${octalMode(a.mode)} "$new"`,
    `chown ${shq(a.owner)} "$new"`,
    `if [[ -f ${p} ]] && cmp -s "$new" ${p}; then exit 0; fi`,
    ...(a.check ? [a.check] : []),
  ];
  if (!a.onChange) return [...head, `mv -f "$new" ${p}`].join("\n");
  // If applying the new file fails, put the previous one back (and apply it again), so the
  // next run sees a difference and retries instead of finding the file "already there".
  return [
    ...head,
    `if [[ -f ${p} ]]; then backup=$(mktemp ${shq(`${a.path}.estate-prev.XXXXXX`)}); cp -p ${p} "$backup"; fi`,
    `mv -f "$new" ${p}`,
    `if ! (`,
    a.onChange,
    `); then`,
    `  echo ${shq(`estate: applying ${a.path} failed; restoring the previous version`)} >&2`,
    `  if [[ -n "$backup" ]]; then`,
    `    mv -f "$backup" ${p}`,
    `    (`,
    a.onChange,
    `    ) || echo ${shq(`estate: applying the previous ${a.path} failed too`)} >&2`,
    `  else`,
    `    rm -f ${p}`,
    `  fi`,
    `  exit 1`,
    `fi`,
  ].join("\n");
}

/**
 * Delivers one file to a host: the content travels as stdin; the command string is the
 * short install script above, the same on every run. Tags two artifacts: the content
 * (`kind`) and the install script (`shell`, at `<file>.install.sh`).
 */
export function remoteFile(
  name: string,
  args: RemoteFileArgs,
  opts: pulumi.CustomResourceOptions,
): command.remote.Command {
  const script = renderInstallFile({
    path: args.path,
    mode: args.mode,
    owner: args.owner ?? "root:root",
    check: args.check,
    onChange: args.onChange,
  });
  const run = asRoot(args.user, `bash -c ${shq(script)}`);
  const hash =
    args.contentHash ??
    (typeof args.content === "string" ? sha256(args.content) : pulumi.output(args.content).apply(sha256));
  const cmd = stdinCommand(
    name,
    {
      connection: args.connection,
      run,
      deleteCommand: args.deleteCommand,
      stdin: args.content,
      hash,
      secret: args.secret,
    },
    opts,
  );
  tagArtifact(cmd, { kind: args.kind, target: args.target, property: "stdin", file: args.file });
  tagArtifact(cmd, { kind: "shell", target: args.target, property: "create", file: `${args.file}.install.sh` });
  return cmd;
}

export interface RemoteStdinArgs {
  readonly connection: SshConnection;
  readonly user: string;
  /** The fixed script (run as root through `bash -c`): the same text on every run. */
  readonly script: string;
  /** The data the script reads on stdin; plain or secret, never inside the command. */
  readonly payload: pulumi.Input<string>;
  /** The payload's hash, for `triggers`: rerun when the data changes. */
  readonly payloadHash: pulumi.Input<string>;
  readonly target: string;
  /** Artifact path of the script (kind shell); the payload is not an artifact. */
  readonly file: string;
  /** The payload is secret: stdout/stderr secret and no logging. @default false */
  readonly secret?: boolean;
}

/**
 * A fixed script that consumes data on stdin (a key to authorize, a value to store): the
 * script is the command string, constant and reviewable; the data only travels as stdin.
 */
export function remoteStdin(
  name: string,
  args: RemoteStdinArgs,
  opts: pulumi.CustomResourceOptions,
): command.remote.Command {
  const cmd = stdinCommand(
    name,
    {
      connection: args.connection,
      run: asRoot(args.user, `bash -c ${shq(args.script)}`),
      stdin: args.payload,
      hash: args.payloadHash,
      extraTriggers: [sha256(args.script)],
      secret: args.secret,
    },
    opts,
  );
  tagArtifact(cmd, { kind: "shell", target: args.target, property: "create", file: args.file });
  return cmd;
}
