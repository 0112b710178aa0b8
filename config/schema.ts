/**
 * The shape of the estate's stack config (`estate:*` keys), with every default.
 *
 * This file is the one place that says which keys exist, what type each has and what it
 * defaults to. Cross-field rules (uniqueness, pools, counts) live in `rules/`.
 * No Pulumi import here: the schema is plain data and is tested as such.
 *
 * Inventory text ends up in root shell scripts and daemon configs, so every string has the
 * alphabet its real values use and a length limit (the renderers quote it as well; this is
 * the first of two walls). Numbers that reach scripts are whole numbers, and speeds come
 * from the Ethernet set, so a script only ever sees digits. Custom messages read
 * "<rule>; <fix>": the value is put in front of them.
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

/**
 * A string that is at most `max` characters long and passes `check`; the rule is skipped
 * during the structural parse. The length is tested first, so no check ever runs on a
 * megabyte of text.
 */
function formatted(max: number, check: (s: string) => boolean, message: string) {
  return z.string().refine((s) => !formatChecks.enabled || (s.length <= max && check(s)), { message });
}

/** A string matching `re`, which must bound the length itself (anchored, with `{m,n}`). */
function matching(re: RegExp, message: string) {
  return formatted(1024, (s) => re.test(s), message);
}

/** A number that must pass `check`; skipped during the structural parse like a string format. */
function numberWhere(base: z.ZodNumber, check: (n: number) => boolean, message: string) {
  return base.refine((n) => !formatChecks.enabled || check(n), { message });
}

const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ifaceName = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,14}$/;

/** A hostname that is also a valid DNS label, so it can name resources and hosts alike. */
export const Hostname = matching(
  dnsLabel,
  "must be a lower-case DNS label (a-z, 0-9, '-' inside, at most 63 characters); write it like node-1",
);

/** A Linux interface name (at most 15 characters). */
export const IfaceName = matching(
  ifaceName,
  "must be a Linux interface name (letters, digits, '_', '.', ':', '-', at most 15 characters); write it like ens1f0 or swp1",
);

/** Whether `s` is one IPv4 address in dotted-quad form (no prefix, no leading zeros). */
export function isIpv4(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) && Address4.isValid(s) && new Address4(s).correctForm() === s;
}

/** One IPv4 address without a prefix length. */
export const Ipv4 = formatted(
  15,
  isIpv4,
  "must be an IPv4 address in dotted-quad form without a prefix; write it like 10.10.0.11",
);

/** An IPv4 network in CIDR form whose address is the network address. */
export function isCidr(s: string): boolean {
  if (!/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(s) || !Address4.isValid(s)) return false;
  const a = new Address4(s);
  return a.startAddress().correctForm() === a.correctForm();
}

export const Cidr = formatted(
  18,
  isCidr,
  "must be an IPv4 network in CIDR form with its network address; write it like 10.10.0.0/24",
);

/** Whether `s` is a DNS name: labels of a-z, 0-9 and inner '-', at most 253 characters. */
function isDnsName(s: string): boolean {
  return s.length <= 253 && /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(s);
}

/**
 * A time server: an address or a host name. Anything that looks numeric must be a valid
 * IPv4 address (`10.10.0.256` and `10.10.0` are typos, not names); a name's last label
 * has a letter, as every top-level domain does.
 */
export function isTimeServer(s: string): boolean {
  if (/^[0-9.]+$/.test(s)) return isIpv4(s);
  const lower = s.toLowerCase();
  const last = lower.slice(lower.lastIndexOf(".") + 1);
  return isDnsName(lower) && /[a-z]/.test(last);
}

/** An SSH host public key as it appears in known_hosts, without the host name: `<type> <base64>`. */
export const HostKey = z.string().superRefine((s, ctx) => {
  const problem = formatChecks.enabled ? hostKeyProblem(s) : undefined;
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** A Debian/Ubuntu package name (Debian policy 5.6.1: at least two characters). */
const PackageName = matching(
  /^[a-z0-9][a-z0-9+.-]{1,63}$/,
  "must be a Debian package name (a-z, 0-9, '+', '.', '-', 2-64 characters); write it like htop",
);

/** A POSIX user name, as `useradd` accepts by default. */
const UserName = matching(
  /^[a-z_][a-z0-9_-]{0,31}$/,
  "must be a POSIX user name (a-z, 0-9, '_', '-', at most 32 characters, starting with a letter or '_'); write it like estate",
);

const Port = z.number().int().min(1).max(65535);

/** A private or public 4-byte ASN (RFC 6793). */
const Asn = z.number().int().min(1).max(4294967295);

/** Ethernet speeds in Gb/s (IEEE 802.3); as Mb/s they are whole numbers. */
export const ETHERNET_GBPS = [1, 2.5, 5, 10, 25, 40, 50, 100, 200, 400, 800] as const;

const SpeedGbps = numberWhere(
  z.number(),
  (n) => (ETHERNET_GBPS as readonly number[]).includes(n),
  `must be an Ethernet speed in Gb/s; use one of ${ETHERNET_GBPS.join(", ")}`,
);

export const Roles = ["k8s-server", "k8s-agent", "ceph-mon", "ceph-mgr", "ceph-osd", "ceph-rgw", "lb"] as const;
export const Role = z.enum(Roles);

export const DiskClasses = ["nvme", "ssd", "hdd"] as const;

const Ssh = z
  .object({
    /** @default the stack's `estate:ssh.user` */
    user: UserName.optional(),
    /** @default the stack's `estate:ssh.port` */
    port: Port.optional(),
  })
  .strict();

export const Disk = z
  .object({
    /** A stable device path: /dev/disk/by-id/... or /dev/disk/by-path/... (never /dev/nvme0n1, which can reorder). */
    path: matching(
      /^\/dev\/disk\/by-(id|path)\/[A-Za-z0-9_:+@-][A-Za-z0-9._:+@-]{0,199}$/,
      "must be a stable device path under /dev/disk/by-id/ or /dev/disk/by-path/; write the disk's link there, e.g. /dev/disk/by-id/nvme-MODEL_SERIAL",
    ),
    class: z.enum(DiskClasses),
    /** The drive's serial number as `lsblk -d -n -o SERIAL` prints it; checked by preflight when given. */
    serial: matching(
      /^[A-Za-z0-9._-]{1,64}$/,
      "must be a drive serial number (letters, digits, '.', '_', '-', at most 64 characters); copy it from lsblk -d -n -o SERIAL",
    ).optional(),
    /** Size in whole GB (10^9 bytes) as sold; preflight accepts 2% either way. */
    sizeGB: z.number().int().min(1).max(1_000_000).optional(),
    /** What the disk is for. @default "osd" */
    use: z.enum(["osd", "os", "spare"]).default("osd"),
  })
  .strict();

export const Nic = z
  .object({
    name: IfaceName,
    /** One of the Ethernet speeds, `ETHERNET_GBPS`. */
    speedGbps: SpeedGbps,
  })
  .strict();

export const Hardware = z
  .object({
    sockets: z.number().int().min(1).max(8),
    /** Physical cores in total, all sockets together. */
    cores: z.number().int().min(1).max(4096),
    /** Installed memory in GiB. */
    memoryGiB: z.number().int().min(1).max(65536),
    disks: z.array(Disk).max(256).default([]),
    nics: z.array(Nic).min(1).max(64),
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
    roles: z.array(Role).min(1).max(Roles.length),
    rack: Hostname,
    hardware: Hardware,
    uplinks: z.array(ServerUplink).max(64).default([]),
    /**
     * Pins the loopback (inside `pools.loopbacks`). @default allocated by position: pin it
     * before removing or reordering servers above this one, or it is renumbered.
     */
    loopback: Ipv4.optional(),
    /** Pins the server's ASN. @default `fabric.asns.serverBase` plus its position */
    asn: Asn.optional(),
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
    /** One of the Ethernet speeds, `ETHERNET_GBPS`. */
    speedGbps: SpeedGbps,
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
    asn: Asn.optional(),
    /** Pins the loopback (inside `pools.loopbacks`). @default allocated by position */
    loopback: Ipv4.optional(),
    /** Leaves only: the cables to the spines. */
    uplinks: z.array(SwitchUplink).max(256).default([]),
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
    k3s: matching(/^v\d{1,4}\.\d{1,4}\.\d{1,4}\+k3s\d{1,4}$/, "must be a K3s release; write it like v1.34.2+k3s1"),
    ceph: matching(
      /^[a-z0-9]([a-z0-9./-]{0,199}[a-z0-9])?:v\d{1,4}\.\d{1,4}\.\d{1,4}$/,
      "must be a Ceph image with a version tag; write it like quay.io/ceph/ceph:v19.2.3",
    ),
    istio: matching(/^\d{1,4}\.\d{1,4}\.\d{1,4}$/, "must be a chart version; write it like 1.30.3"),
    kubePrometheusStack: matching(/^\d{1,4}\.\d{1,4}\.\d{1,4}$/, "must be a chart version; write it like 79.5.0"),
    tigeraOperator: matching(/^v\d{1,4}\.\d{1,4}\.\d{1,4}$/, "must be a chart version; write it like v3.32.1"),
    cephCsiRbd: matching(/^\d{1,4}\.\d{1,4}\.\d{1,4}$/, "must be a chart version; write it like 3.15.0"),
  })
  .strict();

export const Site = z
  .object({
    /** DNS domain of the estate's hosts. */
    domain: formatted(
      253,
      (d) => isDnsName(d) && /\.[a-z]{2,63}$/.test(d),
      "must be a lower-case DNS domain with at least two labels; write it like estate.example.net",
    ),
    /** @default "UTC" */
    timezone: formatted(
      64,
      (tz) => {
        // The name is also a path under /usr/share/zoneinfo: letters first, no '..'.
        if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z][A-Za-z0-9_+-]*){0,2}$/.test(tz)) return false;
        try {
          // Intl also takes "europe/berlin", but the zoneinfo file is Europe/Berlin: a name
          // that resolves to itself in another case is written in the wrong case.
          const resolved = new Intl.DateTimeFormat("en", { timeZone: tz }).resolvedOptions().timeZone;
          return resolved === tz || resolved.toLowerCase() !== tz.toLowerCase();
        } catch {
          return false;
        }
      },
      "must be an IANA time zone; write it like UTC or Europe/Berlin",
    ).default("UTC"),
    /** NTP servers chrony uses (addresses or names); at least one. */
    timeServers: z
      .array(
        formatted(
          253,
          isTimeServer,
          "must be an IPv4 address (four numbers 0-255) or a DNS name whose last label has a letter; write it like 10.10.0.250 or ntp1.example.net",
        ),
      )
      .min(1)
      .max(16),
  })
  .strict();

export const SshDefaults = z
  .object({
    /** @default "estate" */
    user: UserName.default("estate"),
    /** @default 22 */
    port: Port.default(22),
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
    /** How far the kernel's MemTotal may fall below the installed memory, in whole percent. @default 6 */
    memoryTolerancePercent: z.number().int().min(0).max(20).default(6),
    /** Extra Debian packages on every node. @default [] */
    extraPackages: z.array(PackageName).max(256).default([]),
  })
  .strict();

export const FabricOptions = z
  .object({
    /** ASN allocation (RFC 7938): one ASN shared by all spines, one per leaf, one per server. */
    asns: z
      .object({
        /** @default 65000 */
        spine: Asn.default(65000),
        /** First leaf ASN. @default 65100 */
        leafBase: Asn.default(65100),
        /** First server ASN (4-byte private range). @default 4200000000 */
        serverBase: Asn.default(4200000000),
      })
      .strict()
      .prefault({}),
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
      .prefault({}),
    /** ECMP paths per prefix. @default 64 */
    maximumPaths: z.number().int().min(2).max(256).default(64),
    /** Warn above this server-facing : spine-facing capacity ratio on a leaf. @default 3 */
    oversubscriptionLimit: z.number().positive().max(1000).default(3),
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
        https: Port.default(443),
        http: Port.default(80),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** The K3s binary's SHA-256 as printed by `sha256sum` (64 lower-case hex digits). */
const Sha256Hex = matching(
  /^[0-9a-f]{64}$/,
  "must be a SHA-256 in lower-case hex (64 digits); copy it from sha256sum-amd64.txt of the K3s release",
);

/** A cron schedule of five fields (what K3s' `etcd-snapshot-schedule-cron` takes). */
const Cron = matching(
  /^[0-9*/,-]{1,40}( [0-9*/,-]{1,40}){4}$/,
  "must be a cron schedule of five fields of digits and * / , -; write it like '0 */6 * * *'",
);

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
      .prefault({}),
    /**
     * Where the K3s binary comes from: `<url>/<version>/k3s` (the GitHub release layout,
     * `+` escaped), verified against `sha256` before it ever runs. The hosts are amd64
     * (the inventory has no other architecture).
     */
    k3s: z
      .object({
        /** Base URL of the release mirror. @default "https://github.com/k3s-io/k3s/releases/download" */
        url: matching(
          /^https?:\/\/[A-Za-z0-9.-]{1,253}(:\d{1,5})?(\/[A-Za-z0-9._~%-]{1,128}){0,16}$/,
          "must be an http(s) URL of a release mirror without a trailing slash; write it like https://mirror.example.net/k3s",
        ).default("https://github.com/k3s-io/k3s/releases/download"),
        /** SHA-256 of the amd64 binary of `versions.k3s` (required: there is no default for a checksum). */
        sha256: Sha256Hex.optional(),
      })
      .strict()
      .prefault({}),
    /**
     * The API endpoint ops scripts and the Provider use (TCP 6443), on the tier that
     * survives any one server: the front tier's VIP forwards it to every K3s server.
     * Both go into the servers' TLS SANs.
     */
    apiEndpoint: z
      .object({
        /** DNS name of the endpoint. @default "api.<site.domain>" */
        name: formatted(
          253,
          (d) => isDnsName(d) && /[a-z]/.test(d),
          "must be a lower-case DNS name; write it like api.estate.example.net",
        ).optional(),
        /** Its address. @default frontend.vip */
        address: Ipv4.optional(),
      })
      .strict()
      .prefault({}),
    /** etcd snapshots of the control plane, kept on the servers and in the cold tier's bucket. */
    etcdSnapshots: z
      .object({
        /** @default "0 *\/6 * * *" (every six hours) */
        schedule: Cron.default("0 */6 * * *"),
        /** Snapshots kept (per node locally, and in S3). @default 28 (a week at four a day) */
        retention: z.number().int().min(1).max(1000).default(28),
      })
      .strict()
      .prefault({}),
    /**
     * Upgrades roll: servers one at a time, then agents in batches of at most this share
     * of the agents (at least one node), each batch after the previous is Ready. @default 25
     */
    agentBatchPercent: z.number().int().min(1).max(100).default(25),
    /**
     * Namespaces for the applications: created with a default-deny policy that admits only
     * DNS, the mesh, monitoring scrapes and the ingress gateway. @default ["apps"]
     */
    applicationNamespaces: z.array(Hostname).min(1).max(64).default(["apps"]),
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
    /**
     * Mark the cluster's data-bearing resources `protect`ed: Pulumi refuses to delete or
     * replace them until the flag is lifted. @default false
     */
    protect: z.boolean().default(false),
    /**
     * Allow the configuration to delete pools that left the model. Off, a pool removed
     * from the model is left in place with its data and reported. @default false
     */
    allowDataDeletion: z.boolean().default(false),
    /** The cold tier: an S3 endpoint (RGW) with a bucket and a user for backups. */
    coldTier: z
      .object({
        /** Needs at least one `ceph-rgw` host. @default true */
        enabled: z.boolean().default(true),
        /** @default "estate-backups" */
        bucket: matching(
          /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
          "must be an S3 bucket name (3-63 characters: a-z, 0-9, '-'); write it like estate-backups",
        ).default("estate-backups"),
        /** The RGW user that owns the bucket. @default "estate-backup" */
        user: matching(
          /^[a-z][a-z0-9-]{0,31}$/,
          "must be an RGW user id (a-z, 0-9, '-', at most 32 characters); write it like estate-backup",
        ).default("estate-backup"),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** A name of a receiver or credential: it becomes a file name in a Kubernetes Secret. */
const AlertName = matching(
  /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
  "must be a lower-case name (a-z, 0-9, '-' inside, at most 63 characters); write it like ops-mail",
);

/** An e-mail address (what Alertmanager's `to`/`from` take), without display name. */
const EmailAddress = matching(
  /^[A-Za-z0-9._%+-]{1,64}@[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/,
  "must be an e-mail address; write it like ops@example.net",
);

/** An Alertmanager matcher on one label: `label="value"`, `label!="value"`, `=~` or `!~` (RE2). */
export const ALERT_MATCHER = /^([a-zA-Z_][a-zA-Z0-9_]{0,63})(=~|!~|!=|=)"([A-Za-z0-9_.:|*+?()[\]^$ -]{0,200})"$/;

const AlertmanagerReceiver = z
  .object({
    name: AlertName,
    /** A webhook (POST of the Alertmanager JSON payload); the URL is not secret, its token is. */
    webhook: z
      .object({
        url: matching(
          /^https?:\/\/[A-Za-z0-9.-]{1,253}(:\d{1,5})?(\/[A-Za-z0-9._~%/-]{0,512})?$/,
          "must be an http(s) URL without query or credentials (put a token in a credential); write it like https://hooks.example.net/alerts",
        ),
        /** A key of estate:alertmanagerCredentials sent as `Authorization: Bearer <value>`. @default none */
        credential: AlertName.optional(),
      })
      .strict()
      .optional(),
    /** E-mail through a smarthost (STARTTLS required). */
    email: z
      .object({
        to: EmailAddress,
        from: EmailAddress,
        /** `host:port` of the SMTP relay. */
        smarthost: matching(
          /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?:\d{1,5}$/,
          "must be host:port of the SMTP relay; write it like smtp.example.net:587",
        ),
        /** @default none: the relay takes mail without authentication */
        username: matching(
          /^[A-Za-z0-9._@+-]{1,128}$/,
          "must be an SMTP user name (letters, digits, '.', '_', '@', '+', '-'); write it like alerts@example.net",
        ).optional(),
        /** A key of estate:alertmanagerCredentials: the SMTP password. @default none */
        credential: AlertName.optional(),
      })
      .strict()
      .optional(),
    /** Slack: the incoming-webhook URL is itself the secret, so it is a credential. */
    slack: z
      .object({
        channel: matching(/^#[a-z0-9][a-z0-9._-]{0,79}$/, "must be a Slack channel; write it like #alerts"),
        /** A key of estate:alertmanagerCredentials: the incoming-webhook URL. */
        credential: AlertName,
      })
      .strict()
      .optional(),
  })
  .strict();

const AlertmanagerRoute = z
  .object({
    /** The receiver of the alerts this route matches. */
    receiver: AlertName,
    /** Every matcher must hold, e.g. `severity="critical"`. */
    matchers: z
      .array(
        matching(ALERT_MATCHER, 'must be a matcher label="value" (or !=, =~, !~); write it like severity="critical"'),
      )
      .min(1)
      .max(16),
    /** Keep matching the routes after this one. @default false */
    continue: z.boolean().default(false),
  })
  .strict();

const AlertDuration = (example: string) =>
  matching(/^[1-9]\d{0,4}(s|m|h)$/, `must be a duration in s, m or h; write it like ${example}`);

export const AlertmanagerOptions = z
  .object({
    /** Where alerts go: each with a webhook, e-mail and/or Slack. @default [] (alerts go nowhere: a warning) */
    receivers: z.array(AlertmanagerReceiver).max(64).default([]),
    /** The receiver of every alert no route matches. @default the first receiver */
    defaultReceiver: AlertName.optional(),
    /** Routes tried in order below the default route. @default [] */
    routes: z.array(AlertmanagerRoute).max(64).default([]),
    /** @default "30s" */
    groupWait: AlertDuration("30s").default("30s"),
    /** @default "5m" */
    groupInterval: AlertDuration("5m").default("5m"),
    /** @default "4h" */
    repeatInterval: AlertDuration("4h").default("4h"),
  })
  .strict();

export const MonitoringOptions = z
  .object({
    /** @default "30s" */
    scrapeInterval: matching(/^[1-9]\d{0,4}[smh]$/, "must be a duration; write it like 30s").default("30s"),
    /** @default "60s" */
    evaluationInterval: matching(/^[1-9]\d{0,4}[smh]$/, "must be a duration; write it like 60s").default("60s"),
    /**
     * Prometheus (2 replicas) and Alertmanager (3, a gossip cluster) replicated; needs three
     * nodes that run workloads. @default kubernetes.highAvailability when there are three such nodes
     */
    highAvailability: z.boolean().optional(),
    /** What Prometheus keeps: whichever limit comes first. */
    retention: z
      .object({
        /** @default "15d" */
        time: matching(/^[1-9]\d{0,4}[hdwy]$/, "must be a duration in h, d, w or y; write it like 15d").default("15d"),
        /** At most 90% of volumes.prometheus (the WAL and compaction need the rest). @default "40GiB" */
        size: matching(/^[1-9]\d{0,5}(MiB|GiB|TiB)$/, "must be a size in MiB, GiB or TiB; write it like 40GiB").default(
          "40GiB",
        ),
      })
      .strict()
      .prefault({}),
    /** Persistent volumes on the default (Ceph RBD) StorageClass, per replica. */
    volumes: z
      .object({
        /** @default "50Gi" */
        prometheus: matching(/^[1-9]\d{0,5}(Mi|Gi|Ti)$/, "must be a size in Mi, Gi or Ti; write it like 50Gi").default(
          "50Gi",
        ),
        /** @default "2Gi" */
        alertmanager: matching(/^[1-9]\d{0,5}(Mi|Gi|Ti)$/, "must be a size in Mi, Gi or Ti; write it like 2Gi").default(
          "2Gi",
        ),
        /** @default "10Gi" */
        grafana: matching(/^[1-9]\d{0,5}(Mi|Gi|Ti)$/, "must be a size in Mi, Gi or Ti; write it like 10Gi").default(
          "10Gi",
        ),
      })
      .strict()
      .prefault({}),
    /** Receivers and routes; credentials are keys of the secret estate:alertmanagerCredentials. */
    alertmanager: AlertmanagerOptions.prefault({}),
    /** Thresholds of the estate's alert rules (components/monitoring/rules.ts). */
    alerts: z
      .object({
        /** Busy share of all a host's cores (5 minutes) above which HostHighCpu fires. @default 0.8 */
        cpuBusyRatio: z.number().min(0.1).max(0.99).default(0.8),
        /** MemAvailable / MemTotal below which HostMemoryLow fires. @default 0.1 */
        memoryAvailableRatio: z.number().min(0.01).max(0.5).default(0.1),
        /** Share of time every task stalls on memory (PSI "full") above which HostMemoryStalled fires. @default 0.1 */
        memoryStallRatio: z.number().min(0.01).max(1).default(0.1),
        /** Free share of a filesystem below which HostFilesystemAlmostFull fires. @default 0.1 */
        filesystemFreeRatio: z.number().min(0.01).max(0.5).default(0.1),
        /** HostFilesystemFillingUp: the 6-hour trend reaches zero within this many hours. @default 24 */
        filesystemFillHours: z.number().int().min(1).max(720).default(24),
        /** |clock offset| in seconds above which HostClockSkew fires. @default 0.05 */
        clockOffsetSeconds: z.number().min(0.001).max(10).default(0.05),
        /** A certificate expiring within this many days: warning. @default 21 */
        certificateWarningDays: z.number().int().min(2).max(365).default(21),
        /** ...within this many days: critical (below certificateWarningDays). @default 7 */
        certificateCriticalDays: z.number().int().min(1).max(364).default(7),
        /** Share of the API server's requests answered 5xx above which KubeApiServerErrors fires. @default 0.05 */
        apiServerErrorRatio: z.number().min(0.001).max(1).default(0.05),
        /** Share of a mesh service's requests answered 5xx above which IstioServiceErrors fires. @default 0.05 */
        istioErrorRatio: z.number().min(0.001).max(1).default(0.05),
        /** p99 latency of a mesh service in milliseconds above which IstioServiceLatency fires. @default 1000 */
        istioP99LatencyMs: z.number().int().min(10).max(600000).default(1000),
        /** Requests per second a mesh service needs before its ratios count (noise guard). @default 0.2 */
        istioMinRequestRate: z.number().min(0).max(10000).default(0.2),
        /**
         * Age of the newest local etcd snapshot above which EtcdSnapshotStale fires.
         * @default twice the longest gap of kubernetes.etcdSnapshots.schedule, plus one hour
         */
        etcdSnapshotMaxAge: matching(
          /^[1-9]\d{0,4}[mh]$/,
          "must be a duration in m or h; write it like 13h",
        ).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

/** One service whose traffic the mesh copies to another (a VirtualService with `mirror`). */
const MeshMirror = z
  .object({
    /** An application namespace (`kubernetes.applicationNamespaces`). */
    namespace: Hostname,
    /** The Service whose requests are mirrored, in that namespace. */
    service: Hostname,
    /** The Service that receives the copies, in the same namespace (its responses are dropped). */
    mirrorTo: Hostname,
    /** Share of requests copied, in percent (0.01 to 100). */
    percent: numberWhere(
      z.number().min(0.01).max(100),
      (n) => Math.abs(Math.round(n * 100) - n * 100) < 1e-9,
      "must have at most two decimals; write it like 10 or 12.5",
    ),
  })
  .strict();

export const MeshOptions = z
  .object({
    /**
     * istiod at least two replicas with a disruption budget (the rule enforces it).
     * @default kubernetes.highAvailability
     */
    highAvailability: z.boolean().optional(),
    istiod: z
      .object({
        /** istiod replicas (and the autoscaler's minimum). @default 2 */
        replicas: z.number().int().min(1).max(9).default(2),
        /** The autoscaler's maximum. @default 5 */
        maxReplicas: z.number().int().min(1).max(20).default(5),
      })
      .strict()
      .prefault({}),
    /** Services whose traffic is mirrored. @default [] */
    mirrors: z.array(MeshMirror).max(64).default([]),
  })
  .strict();

/**
 * Every non-secret `estate:` key, with its schema. A key with a default may be left out
 * of the stack file.
 */
export const ConfigKeys = {
  site: Site,
  ssh: SshDefaults.prefault({}),
  node: NodeOptions.prefault({}),
  pools: Pools,
  versions: Versions,
  switches: z.array(Switch).min(1),
  servers: z.array(Server).min(1),
  fabric: FabricOptions.prefault({}),
  frontend: FrontendOptions,
  kubernetes: KubernetesOptions.prefault({}),
  ceph: CephOptions.prefault({}),
  monitoring: MonitoringOptions.prefault({}),
  mesh: MeshOptions.prefault({}),
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
  // Monitoring: the secrets Alertmanager's receivers use, by name (a JSON object of strings).
  // Needed only when a receiver names a credential.
  alertmanagerCredentials: {
    setCommand: (stack: string) =>
      `pulumi config set --secret estate:alertmanagerCredentials --stack ${stack} < alertmanager-credentials.json`,
    what: 'the Alertmanager receivers\' credentials, a JSON object {"<credential>": "<secret>"}',
    optional: true,
  },
} as const;

export type SecretKey = keyof typeof SecretKeys;

/** Keys the estate once read: a stack file that still sets one is told to remove it (a warning). */
export const RetiredKeys: Readonly<Record<string, (stack: string) => string>> = {
  vrrpPassword: (stack) =>
    `is no longer used (VRRPv3 has no authentication; nftables on the balancers admits VRRP only from each other); remove it: pulumi config rm estate:vrrpPassword --stack ${stack}`,
};

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
export type AlertmanagerOptions = z.infer<typeof AlertmanagerOptions>;
export type MeshOptions = z.infer<typeof MeshOptions>;
