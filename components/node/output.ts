/**
 * The stack-output entries of the machines (`nodes[]`, `switches[]`): their definitions and
 * their types, and the parser of the hardware facts preflight prints.
 */
import { z } from "zod";
import { Roles } from "../../config/schema";
import { Ipv4, Name, PlanUnknown, Port } from "../shared/output";

/** An SSH host public key as known_hosts holds it, without the host name. */
export const HostKey = z
  .string()
  .max(4096)
  .regex(/^(ssh-ed25519|ecdsa-sha2-nistp256|ecdsa-sha2-nistp384|ecdsa-sha2-nistp521|ssh-rsa) [A-Za-z0-9+/]+={0,2}$/)
  .meta({
    id: "HostKey",
    description: "a pinned SSH host public key, '<type> <base64>' (known_hosts without the host)",
  });

/** How an operator (and the program) reaches a machine over SSH; the private key is never part of it. */
export const SshEndpointOutput = z
  .strictObject({
    host: z
      .string()
      .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/)
      .describe("the address or DNS name SSH connects to"),
    port: Port,
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]{0,31}$/)
      .describe("the login user (root, or one with passwordless sudo)"),
    hostKey: HostKey,
  })
  .meta({ id: "SshEndpoint", description: "SSH to a machine: host, port, user and its pinned host key" });
export type SshEndpointOutput = z.infer<typeof SshEndpointOutput>;

/** The hardware facts preflight read from the machine (the JSON it prints on stdout). */
export const HardwareFacts = z
  .strictObject({
    sockets: z.int().min(0),
    cores: z.int().min(0).describe("physical cores over all sockets"),
    memoryKiB: z.int().describe("MemTotal (-1 when unreadable)"),
    secureBoot: z.enum(["enabled", "disabled", "legacy-bios", "unknown"]),
    tpmVersion: z.string().describe("the TPM's major version, or 'none'"),
    os: z.string(),
    kernel: z.string(),
    disks: z.array(
      z.strictObject({
        path: z.string(),
        model: z.string().nullable(),
        sizeBytes: z.number().min(0),
        serial: z.string().nullable(),
        rotational: z.boolean(),
        transport: z.string().nullable(),
      }),
    ),
    nics: z.array(
      z.strictObject({
        name: z.string(),
        speedMbps: z.int().describe("-1 when the link is down or the speed unknown"),
        state: z.string(),
        mac: z.string(),
      }),
    ),
  })
  .meta({ id: "HardwareFacts", description: "what preflight found on the machine" });
export type HardwareFacts = z.infer<typeof HardwareFacts>;

export const NodeOutput = z
  .strictObject({
    name: Name,
    mgmtAddress: Ipv4.describe("where SSH reaches the node"),
    ssh: SshEndpointOutput,
    loopback: Ipv4.describe("the node's fabric loopback: what the other tiers use to reach it"),
    rack: Name,
    roles: z.array(z.enum(Roles)).min(1),
    ready: z.string().describe("the host name once preflight, network and baseline ran ([unknown] in a preview)"),
    facts: z
      .union([HardwareFacts, PlanUnknown])
      .describe("the hardware facts preflight gathered (known once preflight ran)"),
  })
  .meta({ description: "One bare-metal server." });
export type NodeOutput = z.infer<typeof NodeOutput>;

export const SwitchOutput = z
  .strictObject({
    name: Name,
    role: z.enum(["spine", "leaf"]),
    mgmtAddress: Ipv4.describe("the switch's management address"),
    ssh: SshEndpointOutput,
  })
  .meta({ description: "One fabric switch, as SSH reaches it (its fabric plan is in `fabric`)." });
export type SwitchOutput = z.infer<typeof SwitchOutput>;

/** lsblk's JSON differs by version: `rota` is a boolean (2.33+) or "0"/"1", `size` a number or a string. */
const LsblkDevice = z.object({
  path: z.string().optional(),
  name: z.string(),
  model: z.string().nullable().optional(),
  size: z
    .union([z.number(), z.string().regex(/^\d+$/)])
    .nullable()
    .optional(),
  serial: z.string().nullable().optional(),
  rota: z
    .union([z.boolean(), z.enum(["0", "1"]), z.literal(0), z.literal(1)])
    .nullable()
    .optional(),
  type: z.string().optional(),
  tran: z.string().nullable().optional(),
});

/** What preflight prints (components/node/render.ts, renderPreflight), as far as the facts need it. */
const PreflightJson = z.object({
  host: z.string(),
  sockets: z.int(),
  cores: z.int(),
  memoryKiB: z.int(),
  secureBoot: HardwareFacts.shape.secureBoot,
  tpmVersion: z.string(),
  os: z.string(),
  kernel: z.string(),
  lsblk: z.object({ blockdevices: z.array(LsblkDevice) }),
  nics: HardwareFacts.shape.nics,
});

/**
 * The facts in preflight's stdout (its last line is the JSON; nothing else is printed on
 * success). Throws naming the host when the text is not preflight's JSON.
 */
export function parsePreflightFacts(host: string, stdout: string): HardwareFacts {
  const line = stdout.trim().split("\n").pop() ?? "";
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new Error(`preflight ${host}: stdout is not the facts JSON: ${JSON.stringify(line.slice(0, 80))}`);
  }
  const got = PreflightJson.safeParse(json);
  if (!got.success) {
    const issue = got.error.issues[0];
    throw new Error(`preflight ${host}: facts JSON at '${issue.path.join(".")}': ${issue.message}`);
  }
  const f = got.data;
  return {
    sockets: f.sockets,
    cores: f.cores,
    memoryKiB: f.memoryKiB,
    secureBoot: f.secureBoot,
    tpmVersion: f.tpmVersion,
    os: f.os,
    kernel: f.kernel,
    disks: f.lsblk.blockdevices.map((d) => ({
      path: d.path ?? `/dev/${d.name}`,
      model: d.model?.trim() || null,
      sizeBytes: Number(d.size ?? 0),
      serial: d.serial?.trim() || null,
      rotational: d.rota === true || d.rota === "1" || d.rota === 1,
      transport: d.tran ?? null,
    })),
    nics: f.nics,
  };
}
