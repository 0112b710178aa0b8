/**
 * The shape of the estate's stack config (`estate:*` keys), with every default.
 *
 * This file is the one place that says which keys exist, what type each has and what it
 * defaults to. Cross-field rules (uniqueness, pools, counts) live in `validate.ts`.
 * No Pulumi import here: the schema is plain data and is tested as such.
 */
import { z } from "zod";
import { Address4 } from "ip-address";
import { hostKeyProblem } from "./hostkey";

/**
 * Format checks (addresses, names, keys) can be switched off for a second, structural
 * parse: when a value is malformed, validation still reads the rest of its entry and runs
 * the cross-key rules, so one pass reports every problem. Only `validate.ts` toggles it.
 */
export const formatChecks = { enabled: true };

/** A string that must match `check`; the rule is skipped during the structural parse. */
function formatted(check: (s: string) => boolean, message: string) {
  return z.string().refine((s) => !formatChecks.enabled || check(s), { message });
}

function matching(re: RegExp, message: string) {
  return formatted((s) => re.test(s), message);
}

const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ifaceName = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}$/;

/** A hostname that is also a valid DNS label, so it can name resources and hosts alike. */
export const Hostname = matching(
  dnsLabel,
  "must be a lower-case DNS label (a-z, 0-9, '-', at most 63 characters), e.g. node-1",
);

/** A Linux interface name (at most 15 characters). */
export const IfaceName = matching(
  ifaceName,
  "must be a Linux interface name of at most 15 characters, e.g. ens1f0 or swp1",
);

/** One IPv4 address without a prefix length. */
export const Ipv4 = formatted(
  (s) => !s.includes("/") && Address4.isValid(s) && new Address4(s).correctForm() === s,
  "must be an IPv4 address in dotted-quad form without a prefix, e.g. 10.10.0.11",
);

/** An IPv4 network in CIDR form whose address is the network address. */
export function isCidr(s: string): boolean {
  if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(s) || !Address4.isValid(s)) return false;
  const a = new Address4(s);
  return a.startAddress().correctForm() === a.correctForm();
}

export const Cidr = formatted(
  isCidr,
  "must be an IPv4 network in CIDR form with its network address, e.g. 10.10.0.0/24",
);

/** An SSH host public key as it appears in known_hosts, without the host name: `<type> <base64>`. */
export const HostKey = z.string().superRefine((s, ctx) => {
  const problem = formatChecks.enabled ? hostKeyProblem(s) : undefined;
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** A Debian/Ubuntu package name. */
const PackageName = matching(/^[a-z0-9][a-z0-9+.-]+$/, "must be a Debian package name");

export const Roles = ["k8s-server", "k8s-agent", "ceph-mon", "ceph-mgr", "ceph-osd", "ceph-rgw", "lb"] as const;
export const Role = z.enum(Roles);

export const DiskClasses = ["nvme", "ssd", "hdd"] as const;

const Ssh = z
  .object({
    /** @default the stack's `estate:ssh.user` */
    user: matching(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a POSIX user name").optional(),
    /** @default the stack's `estate:ssh.port` */
    port: z.number().int().min(1).max(65535).optional(),
  })
  .strict();

export const Disk = z
  .object({
    /** A stable device path: /dev/disk/by-id/... or /dev/disk/by-path/... (never /dev/nvme0n1, which can reorder). */
    path: matching(
      /^\/dev\/disk\/by-(id|path)\/[A-Za-z0-9._:+@-]+$/,
      "must be a stable device path under /dev/disk/by-id/ or /dev/disk/by-path/",
    ),
    class: z.enum(DiskClasses),
    /** The drive's serial number, checked by preflight when given. */
    serial: z.string().min(1).optional(),
    /** Size in GB (10^9 bytes) as sold; preflight accepts 2% either way. */
    sizeGB: z.number().positive().optional(),
    /** What the disk is for. @default "osd" */
    use: z.enum(["osd", "os", "spare"]).default("osd"),
  })
  .strict();

export const Nic = z
  .object({
    name: IfaceName,
    speedGbps: z.number().positive(),
  })
  .strict();

export const Hardware = z
  .object({
    sockets: z.number().int().min(1).max(8),
    /** Physical cores in total, all sockets together. */
    cores: z.number().int().min(1),
    /** Installed memory in GiB. */
    memoryGiB: z.number().int().min(1),
    disks: z.array(Disk).default([]),
    nics: z.array(Nic).min(1),
  })
  .strict();

export const ServerUplink = z
  .object({
    leaf: Hostname,
    /** The leaf's port this server is cabled to. */
    port: IfaceName,
    /** The server's NIC on this link; its speed comes from `hardware.nics`. */
    nic: IfaceName,
  })
  .strict();

export const Server = z
  .object({
    name: Hostname,
    mgmtAddress: Ipv4,
    ssh: Ssh.optional(),
    hostKey: HostKey,
    roles: z.array(Role).min(1),
    rack: Hostname,
    hardware: Hardware,
    uplinks: z.array(ServerUplink).default([]),
    /**
     * Pins the loopback (inside `pools.loopbacks`). @default allocated by position: pin it
     * before removing or reordering servers above this one, or it is renumbered.
     */
    loopback: Ipv4.optional(),
    /** Pins the server's ASN. @default `fabric.asns.serverBase` plus its position */
    asn: z.number().int().positive().optional(),
    /** Only for role `lb`: the balancer's own address on the front-tier segment. */
    frontend: z.object({ address: Ipv4, nic: IfaceName }).strict().optional(),
  })
  .strict();

export const SwitchUplink = z
  .object({
    spine: Hostname,
    /** The leaf's port toward the spine. */
    port: IfaceName,
    /** The spine's port toward this leaf. */
    spinePort: IfaceName,
    speedGbps: z.number().positive(),
  })
  .strict();

export const Switch = z
  .object({
    name: Hostname,
    role: z.enum(["spine", "leaf"]),
    /** Leaves belong to a rack; spines do not. */
    rack: Hostname.optional(),
    mgmtAddress: Ipv4,
    ssh: Ssh.optional(),
    hostKey: HostKey,
    /** @default allocated from `estate:fabric.asns` */
    asn: z.number().int().positive().optional(),
    /** Pins the loopback (inside `pools.loopbacks`). @default allocated by position */
    loopback: Ipv4.optional(),
    /** Leaves only: the cables to the spines. */
    uplinks: z.array(SwitchUplink).default([]),
  })
  .strict();

export const Pools = z
  .object({
    management: Cidr,
    loopbacks: Cidr,
    /** Point-to-point /31s when `estate:fabric.numbered` is true. */
    fabricLinks: Cidr.optional(),
    frontend: Cidr,
    podCidr: Cidr,
    serviceCidr: Cidr,
  })
  .strict();

export const Versions = z
  .object({
    k3s: matching(/^v\d+\.\d+\.\d+\+k3s\d+$/, "must be a K3s release such as v1.34.2+k3s1"),
    ceph: matching(/^[a-z0-9./-]+:v\d+\.\d+\.\d+$/, "must be a Ceph image with a version tag"),
    istio: matching(/^\d+\.\d+\.\d+$/, "must be a chart version such as 1.30.3"),
    kubePrometheusStack: matching(/^\d+\.\d+\.\d+$/, "must be a chart version"),
    tigeraOperator: matching(/^v\d+\.\d+\.\d+$/, "must be a chart version such as v3.32.1"),
    cephCsiRbd: matching(/^\d+\.\d+\.\d+$/, "must be a chart version"),
  })
  .strict();

export const Site = z
  .object({
    /** DNS domain of the estate's hosts. */
    domain: matching(/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/, "must be a DNS domain"),
    /** @default "UTC" */
    timezone: formatted((tz) => {
      try {
        new Intl.DateTimeFormat("en", { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, "must be an IANA time zone such as UTC or Europe/Berlin").default("UTC"),
    /** NTP servers chrony uses (addresses or names); at least one. */
    timeServers: z
      .array(
        matching(
          /^((\d{1,3}\.){3}\d{1,3}|([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?)$/i,
          "must be an IPv4 address or a DNS name, e.g. 10.10.0.250 or ntp1.example.net",
        ),
      )
      .min(1),
  })
  .strict();

export const SshDefaults = z
  .object({
    /** @default "estate" */
    user: matching(/^[a-z_][a-z0-9_-]{0,31}$/, "must be a POSIX user name").default("estate"),
    /** @default 22 */
    port: z.number().int().min(1).max(65535).default(22),
  })
  .strict();

export const NodeOptions = z
  .object({
    /** Fail preflight when Secure Boot is off. @default true */
    requireSecureBoot: z.boolean().default(true),
    /** Fail preflight when no TPM 2.0 is present. @default true */
    requireTpm: z.boolean().default(true),
    /** Reverse-path filtering: loose (2) where ECMP makes paths asymmetric, or strict (1). Never off. @default "loose" */
    rpFilter: z.enum(["loose", "strict"]).default("loose"),
    /** How far the kernel's MemTotal may fall below the installed memory. @default 6 */
    memoryTolerancePercent: z.number().min(0).max(20).default(6),
    /** Extra Debian packages on every node. @default [] */
    extraPackages: z.array(PackageName).default([]),
  })
  .strict();

export const FabricOptions = z
  .object({
    /** ASN allocation (RFC 7938): one ASN shared by all spines, one per leaf, one per server. */
    asns: z
      .object({
        /** @default 65000 */
        spine: z.number().int().default(65000),
        /** First leaf ASN. @default 65100 */
        leafBase: z.number().int().default(65100),
        /** First server ASN (4-byte private range). @default 4200000000 */
        serverBase: z.number().int().default(4200000000),
      })
      .strict()
      .default({ spine: 65000, leafBase: 65100, serverBase: 4200000000 }),
    /** Numbered /31 fabric links from `pools.fabricLinks` instead of unnumbered (RFC 5549). @default false */
    numbered: z.boolean().default(false),
    bfd: z
      .object({
        /** @default 100 */
        intervalMs: z.number().int().min(10).max(60000).default(100),
        /** @default 3 */
        multiplier: z.number().int().min(2).max(255).default(3),
      })
      .strict()
      .default({ intervalMs: 100, multiplier: 3 }),
    /** ECMP paths per prefix. @default 64 */
    maximumPaths: z.number().int().min(2).max(256).default(64),
    /** Warn above this server-facing : spine-facing capacity ratio on a leaf. @default 3 */
    oversubscriptionLimit: z.number().positive().default(3),
  })
  .strict();

export const FrontendOptions = z
  .object({
    /** The floating address clients use, inside `pools.frontend`. */
    vip: Ipv4,
    /**
     * The segment's router toward the clients. When set, replies from the segment (the
     * VIP) leave through it (policy routing on the balancers). @default none: clients on the segment
     */
    gateway: Ipv4.optional(),
    /** VRRP router id, unique on the segment. @default 51 */
    vrid: z.number().int().min(1).max(255).default(51),
    /** Require at least two balancers. @default true */
    highAvailability: z.boolean().default(true),
    ports: z
      .object({
        https: z.number().int().min(1).max(65535).default(443),
        http: z.number().int().min(1).max(65535).default(80),
      })
      .strict()
      .default({ https: 443, http: 80 }),
  })
  .strict();

export const KubernetesOptions = z
  .object({
    /** Require an odd number (at least 3) of `k8s-server` nodes. @default true */
    highAvailability: z.boolean().default(true),
    /** NodePorts of the Istio ingress gateway on every Kubernetes node. */
    ingressNodePorts: z
      .object({
        https: z.number().int().min(30000).max(32767).default(30443),
        http: z.number().int().min(30000).max(32767).default(30080),
      })
      .strict()
      .default({ https: 30443, http: 30080 }),
  })
  .strict();

export const CephOptions = z
  .object({
    /** Require an odd number (at least 3) of `ceph-mon` nodes. @default true */
    highAvailability: z.boolean().default(true),
    /** Replicas of the RBD pool; never more than there are OSD hosts. @default 3 */
    replicas: z.number().int().min(1).max(10).default(3),
    /** Replicas that must be written before a write is acknowledged. @default 2 */
    minSize: z.number().int().min(1).max(10).default(2),
  })
  .strict();

export const MonitoringOptions = z
  .object({
    /** @default "30s" */
    scrapeInterval: matching(/^\d+[smh]$/, "must be a duration such as 30s").default("30s"),
    /** @default "60s" */
    evaluationInterval: matching(/^\d+[smh]$/, "must be a duration such as 60s").default("60s"),
  })
  .strict();

/**
 * Every non-secret `estate:` key, with its schema. A key with a default may be left out
 * of the stack file.
 */
export const ConfigKeys = {
  site: Site,
  ssh: SshDefaults.default({ user: "estate", port: 22 }),
  node: NodeOptions.default({
    requireSecureBoot: true,
    requireTpm: true,
    rpFilter: "loose",
    memoryTolerancePercent: 6,
    extraPackages: [],
  }),
  pools: Pools,
  versions: Versions,
  switches: z.array(Switch).min(1),
  servers: z.array(Server).min(1),
  fabric: FabricOptions.default(FabricOptions.parse({})),
  frontend: FrontendOptions,
  kubernetes: KubernetesOptions.default(KubernetesOptions.parse({})),
  ceph: CephOptions.default(CephOptions.parse({})),
  monitoring: MonitoringOptions.default(MonitoringOptions.parse({})),
} as const;

export type ConfigKey = keyof typeof ConfigKeys;

/** Secret keys: never in plain text in a stack file. */
export const SecretKeys = {
  sshPrivateKey: {
    /** Shown in the error when missing. */
    setCommand: (stack: string) =>
      `pulumi config set --secret estate:sshPrivateKey --stack ${stack} < ~/.ssh/estate_ed25519`,
    what: "the SSH private key the estate logs in with",
  },
  // Front tier: the certificate Nginx serves on the VIP (leaf first, then intermediates).
  tlsCertificate: {
    setCommand: (stack: string) =>
      `pulumi config set --secret estate:tlsCertificate --stack ${stack} < frontend-fullchain.pem`,
    what: "the PEM certificate chain the front tier serves",
  },
  tlsKey: {
    setCommand: (stack: string) => `pulumi config set --secret estate:tlsKey --stack ${stack} < frontend-key.pem`,
    what: "the PEM private key of estate:tlsCertificate",
  },
  // Front tier: the VRRP (v2 PASS) password the balancers share, 1-8 characters.
  vrrpPassword: {
    setCommand: (stack: string) =>
      `openssl rand -hex 4 | pulumi config set --secret estate:vrrpPassword --stack ${stack}`,
    what: "the VRRP password the front-tier balancers share",
  },
} as const;

export type SecretKey = keyof typeof SecretKeys;

export type Disk = z.infer<typeof Disk>;
export type Nic = z.infer<typeof Nic>;
export type Hardware = z.infer<typeof Hardware>;
export type Role = z.infer<typeof Role>;
export type ServerConfig = z.infer<typeof Server>;
export type SwitchConfig = z.infer<typeof Switch>;
export type Pools = z.infer<typeof Pools>;
export type Versions = z.infer<typeof Versions>;
export type Site = z.infer<typeof Site>;
export type NodeOptions = z.infer<typeof NodeOptions>;
export type FabricOptions = z.infer<typeof FabricOptions>;
export type FrontendOptions = z.infer<typeof FrontendOptions>;
export type KubernetesOptions = z.infer<typeof KubernetesOptions>;
export type CephOptions = z.infer<typeof CephOptions>;
export type MonitoringOptions = z.infer<typeof MonitoringOptions>;
