/**
 * The estate's cross-tier invariants as Pulumi policies. `index.ts` serves them as the
 * policy pack `estate` (`pulumi preview --policy-pack policy`); the unit tests call the same
 * objects' `validateResource` / `validateStack` with arguments built the way the policy SDK
 * builds them (tests/helpers/policy.ts), so no CLI is needed to check them.
 *
 * What a policy sees: every resource's inputs as the engine sends them, secrets unwrapped
 * to plain values (the SDK does not say which were secret) and values not known until
 * deployment as sentinels. During `pulumi preview` a policy skips what is not known yet;
 * `pulumi up` runs the pack again with every value known.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- resource inputs are untyped JSON, read defensively */
import type { PolicyResource, ReportViolation, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
  cephPools,
  needles,
  osdHostsByClass,
  parseFrr,
  secretShape,
  selectorMisses,
  sshdConfigs,
  sshdPasswordProblems,
} from "./read";

export const COMMAND = "command:remote:Command";
export const RELEASE = "kubernetes:helm.sh/v3:Release";
export const SECRET = "kubernetes:core/v1:Secret";

/** The policy SDK's markers for values not known during preview (any of its kinds). */
const UNKNOWN = new Set([
  "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
  "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",
  "3eeb2bf0-c639-47a8-9e75-3b44932eb421",
  "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
  "030794c1-ac77-496b-92df-f27374a8bd58",
  "e48ece36-62e2-4504-bad9-02848725956a",
  "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",
]);

/**
 * The inputs without the SDK's unknown-checking proxy (which throws on the first unknown
 * read, making the whole policy advisory for the run): the policies test for unknowns
 * themselves and skip only the value concerned.
 */
export function data(props: Record<string, any>): Record<string, any> {
  return (props as any).__getSpecialProxyTarget ?? props;
}

export function isUnknown(v: unknown): boolean {
  return typeof v === "string" && UNKNOWN.has(v);
}

/** A known string, or undefined (absent, unknown, not a string). */
function str(v: unknown): string | undefined {
  return typeof v === "string" && !isUnknown(v) ? v : undefined;
}

/** A Kubernetes object's kind, whether typed (`kubernetes:<group>/<v>:<Kind>`) or a CustomResource. */
function kindOf(r: { type: string; props: Record<string, any> }): string {
  const d = data(r.props);
  if (typeof d.kind === "string" && typeof d.apiVersion === "string") return `${d.apiVersion.split("/")[0]}:${d.kind}`;
  const m = /^kubernetes:([^/]+)\/[^:]+:(\w+)$/.exec(r.type);
  return m ? `${m[1]}:${m[2]}` : r.type;
}

function commands(resources: readonly PolicyResource[]): PolicyResource[] {
  return resources.filter((r) => r.type === COMMAND);
}

/** Every FRR config a command delivers (as stdin), with the command. */
function frrConfigs(
  resources: readonly PolicyResource[],
): { r: PolicyResource; frr: NonNullable<ReturnType<typeof parseFrr>> }[] {
  return commands(resources).flatMap((r) => {
    const frr = parseFrr(str(data(r.props).stdin) ?? "");
    return frr ? [{ r, frr }] : [];
  });
}

/**
 * ASNs unique across tiers. Read from the FRR configs the commands install (`router bgp`),
 * the only place an ASN reaches a device: the spines share one ASN (RFC 7938), every leaf
 * and every server has its own, and no ASN is used by two tiers.
 */
export const asnsUniqueAcrossTiers: StackValidationPolicy = {
  name: "estate-asn-unique-across-tiers",
  description: "BGP ASNs: the spines share one, each leaf and server has its own, no ASN in two tiers.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const speakers = frrConfigs(args.resources);
    if (!speakers.length) args.notApplicable("no FRR config in this stack");
    const byAsn = new Map<number, { host: string; tier: string; urn: string }[]>();
    for (const { r, frr } of speakers)
      byAsn.set(frr.asn, [...(byAsn.get(frr.asn) ?? []), { host: frr.host, tier: frr.tier, urn: r.urn }]);
    for (const [asn, owners] of [...byAsn].sort((a, b) => a[0] - b[0])) {
      const tiers = [...new Set(owners.map((o) => o.tier))].sort();
      const who = owners.map((o) => `${o.host} (${o.tier})`).join(", ");
      if (tiers.length > 1) report(`ASN ${asn} is used by more than one tier: ${who}`, owners[0].urn);
      else if (tiers[0] !== "spine" && owners.length > 1)
        report(`ASN ${asn} is shared by ${who}; each ${tiers[0]} needs its own ASN`, owners[0].urn);
    }
    const spineAsns = [...new Set(speakers.filter((s) => s.frr.tier === "spine").map((s) => s.frr.asn))];
    if (spineAsns.length > 1) report(`the spines use ASNs ${spineAsns.join(", ")}; all spines share one ASN`);
  },
};

/** BFD on every fabric session: every BGP neighbor of every FRR config, directly or through its peer-group. */
export const bfdOnEveryFabricSession: ResourceValidationPolicy = {
  name: "estate-bfd-on-every-fabric-session",
  description: "Every BGP session in an FRR config has BFD (on the neighbor or its peer-group).",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== COMMAND) return;
    const frr = parseFrr(str(data(args.props).stdin) ?? "");
    if (!frr) return;
    if (!frr.sessions.length) report(`${frr.host}: the FRR config has no BGP session`);
    for (const s of frr.sessions.filter((x) => !x.bfd)) report(`${frr.host}: BGP session ${s.neighbor} has no BFD`);
    for (const p of frr.missingProfiles) report(`${frr.host}: BFD profile ${p} is used but not defined`);
  },
};

/**
 * Ceph: a replicated pool never has more replicas than there are OSD hosts with its
 * device class (CRUSH places one replica per host), and min_size < size (one host down
 * keeps the pool writable). Pools from the configuration script's model, OSD hosts from
 * the cephadm specs that create the OSDs.
 */
export const cephReplicasFitHosts: StackValidationPolicy = {
  name: "estate-ceph-replicas-fit-hosts",
  description: "Ceph pools: size <= OSD hosts of the pool's device class, 1 <= min_size < size.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const pools: { urn: string; pools: NonNullable<ReturnType<typeof cephPools>> }[] = [];
    const hosts = new Map<string, Set<string>>();
    let specs = false;
    for (const r of commands(args.resources)) {
      const stdin = str(data(r.props).stdin) ?? "";
      const p = cephPools(stdin);
      if (p) pools.push({ urn: r.urn, pools: p });
      const h = osdHostsByClass(stdin);
      if (h) {
        specs = true;
        for (const [c, set] of h) hosts.set(c, new Set([...(hosts.get(c) ?? []), ...set]));
      }
    }
    if (!pools.length) args.notApplicable("no Ceph configuration in this stack");
    if (!specs) report("Ceph pools are configured but no cephadm OSD spec places any OSD");
    for (const { urn, pools: list } of pools)
      for (const p of list) {
        const n = hosts.get(p.deviceClass)?.size ?? 0;
        if (p.size > n)
          report(`pool ${p.name}: size ${p.size} > ${n} OSD host(s) with device class ${p.deviceClass}`, urn);
        if (!(p.minSize < p.size)) report(`pool ${p.name}: min_size ${p.minSize} is not below size ${p.size}`, urn);
        if (p.minSize < 1) report(`pool ${p.name}: min_size ${p.minSize} is below 1`, urn);
      }
  },
};

/**
 * Mutual TLS is STRICT mesh-wide: where the stack runs istiod, a PeerAuthentication in
 * Istio's root namespace (the istiod Release's `meshConfig.rootNamespace`, default its
 * namespace `istio-system`) without a selector and with mode STRICT; and no
 * PeerAuthentication anywhere weakens it (PERMISSIVE, DISABLE, or a port-level override).
 */
export const meshMtlsStrict: StackValidationPolicy = {
  name: "estate-mesh-mtls-strict",
  description: "A mesh-wide STRICT PeerAuthentication exists in Istio's root namespace; none weakens it.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const istiod = args.resources.find(
      (r) => r.type === RELEASE && /(^|\/)istiod$/.test(str(data(r.props).chart) ?? ""),
    );
    if (!istiod) args.notApplicable("no istiod Release in this stack");
    const v = data(istiod!.props);
    const root = str(v.values?.meshConfig?.rootNamespace) ?? "istio-system";
    const pas = args.resources.filter((r) => kindOf(r) === "security.istio.io:PeerAuthentication");
    const meshWide = pas.filter((r) => {
      const d = data(r.props);
      const sel = d.spec?.selector;
      return d.metadata?.namespace === root && (!sel || !Object.keys(sel.matchLabels ?? {}).length);
    });
    if (!meshWide.length)
      report(`no mesh-wide PeerAuthentication (namespace ${root}, no selector): mTLS is not STRICT`);
    for (const r of meshWide) {
      const mode = data(r.props).spec?.mtls?.mode;
      if (mode !== "STRICT")
        report(`mesh-wide PeerAuthentication ${r.name}: mtls.mode is ${mode ?? "unset"}, want STRICT`, r.urn);
    }
    for (const r of pas) {
      const d = data(r.props);
      const mode = d.spec?.mtls?.mode;
      if (mode && mode !== "STRICT" && mode !== "UNSET")
        report(
          `PeerAuthentication ${d.metadata?.namespace ?? "?"}/${d.metadata?.name ?? r.name} sets mtls.mode ${mode}`,
          r.urn,
        );
      for (const [port, m] of Object.entries(d.spec?.portLevelMtls ?? {}) as [string, any][])
        if (m?.mode && m.mode !== "STRICT")
          report(`PeerAuthentication ${d.metadata?.name ?? r.name}: port ${port} mtls.mode ${m.mode}`, r.urn);
    }
  },
};

/**
 * Every PrometheusRule is picked up: its labels match the `ruleSelector` of the
 * kube-prometheus-stack Release's values and its namespace the `ruleNamespaceSelector`
 * (read from the values, not assumed). With `ruleSelectorNilUsesHelmValues` (the chart's
 * default) and no selector, the chart selects `release: <release name>`.
 */
export const prometheusRulesSelected: StackValidationPolicy = {
  name: "estate-prometheus-rules-selected",
  description: "Every PrometheusRule carries the labels the Prometheus rule selector expects.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const kps = args.resources.find(
      (r) => r.type === RELEASE && /(^|\/)kube-prometheus-stack$/.test(str(data(r.props).chart) ?? ""),
    );
    const rules = args.resources.filter((r) => kindOf(r) === "monitoring.coreos.com:PrometheusRule");
    if (!kps) {
      if (rules.length) report(`${rules.length} PrometheusRule(s) but no kube-prometheus-stack Release to load them`);
      else args.notApplicable("no kube-prometheus-stack Release in this stack");
      return;
    }
    const rel = data(kps.props);
    const values = rel.values ?? {};
    if (isUnknown(values)) return; // known at `pulumi up`
    const spec = values.prometheus?.prometheusSpec ?? {};
    const releaseName = str(rel.name) ?? kps.name;
    const promNamespace = str(rel.namespace) ?? "default";
    const nilUsesHelm = values.prometheus?.prometheusSpec?.ruleSelectorNilUsesHelmValues ?? true;
    const empty = (s: any): boolean =>
      !s || (!Object.keys(s.matchLabels ?? {}).length && !(s.matchExpressions ?? []).length);
    const selector = empty(spec.ruleSelector)
      ? nilUsesHelm
        ? { matchLabels: { release: releaseName } }
        : undefined
      : spec.ruleSelector;
    const nsSelector = spec.ruleNamespaceSelector;
    for (const r of rules) {
      const d = data(r.props);
      const labels: Record<string, string> = d.metadata?.labels ?? {};
      if (isUnknown(labels)) continue;
      const misses = selectorMisses(selector, labels);
      if (misses.length)
        report(
          `PrometheusRule ${d.metadata?.name ?? r.name}: Prometheus will not load it; it lacks ${misses.join(", ")}`,
          r.urn,
        );
      const ns = str(d.metadata?.namespace) ?? "default";
      if (nsSelector === undefined && ns !== promNamespace)
        report(
          `PrometheusRule ${d.metadata?.name ?? r.name}: namespace ${ns} is outside Prometheus' (${promNamespace}) and the values set no ruleNamespaceSelector`,
          r.urn,
        );
      else if (
        nsSelector &&
        (nsSelector.matchExpressions?.length || Object.keys(nsSelector.matchLabels ?? {}).length)
      ) {
        const nsObj = args.resources.find(
          (x) => x.type === "kubernetes:core/v1:Namespace" && data(x.props).metadata?.name === ns,
        );
        const misses2 = selectorMisses(nsSelector, data(nsObj?.props ?? {}).metadata?.labels ?? {});
        if (misses2.length)
          report(
            `PrometheusRule ${d.metadata?.name ?? r.name}: its namespace ${ns} lacks ${misses2.join(", ")} (ruleNamespaceSelector)`,
            r.urn,
          );
      }
    }
  },
};

/** Where the estate keeps secret values in inputs (the SDK does not mark them for policies). */
export function secretValues(resources: readonly PolicyResource[]): { value: string; where: string }[] {
  const out: { value: string; where: string }[] = [];
  const add = (v: unknown, where: string): void => {
    const s = str(v);
    if (s) out.push({ value: s, where });
  };
  for (const r of resources) {
    const d = data(r.props);
    if (r.type === COMMAND) {
      for (const c of [d.connection, d.connection?.proxy]) {
        add(c?.privateKey, `${r.name} connection.privateKey`);
        add(c?.password, `${r.name} connection.password`);
        add(c?.privateKeyPassword, `${r.name} connection.privateKeyPassword`);
      }
      // The estate's rule (components/shared/remote.ts): a secret payload travels as stdin of a
      // command that logs nothing.
      if (d.logging === "none") add(d.stdin, `${r.name} stdin`);
    }
    if (r.type === SECRET) {
      for (const [k, v] of Object.entries(d.stringData ?? {})) add(v, `${r.name} stringData.${k}`);
      for (const [k, v] of Object.entries(d.data ?? {})) {
        add(v, `${r.name} data.${k}`);
        const s = str(v);
        if (s) add(Buffer.from(s, "base64").toString("utf8"), `${r.name} data.${k} (decoded)`);
      }
    }
  }
  return out;
}

/**
 * No secret inside a command string: `create`, `update` and `delete` of every remote
 * command are shown by every preview diff and kept in the state in plain text. Checked
 * against the secret values of the stack (`secretValues`) and against the shapes of
 * credentials (a PEM private key, a K3s token, a Ceph key, ...).
 */
export const noSecretInCommand: StackValidationPolicy = {
  name: "estate-no-secret-in-command",
  description: "No remote command's create/update/delete string contains a secret or a credential-shaped value.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const secrets = secretValues(args.resources).flatMap((s) => needles(s.value).map((n) => ({ n, where: s.where })));
    for (const r of commands(args.resources)) {
      const d = data(r.props);
      for (const field of ["create", "update", "delete"]) {
        const text = str(d[field]);
        if (!text) continue;
        const shape = secretShape(text);
        if (shape) report(`${r.name}: '${field}' contains ${shape}; send it as stdin`, r.urn);
        const hit = secrets.find((s) => text.includes(s.n));
        if (hit) report(`${r.name}: '${field}' contains the secret value of ${hit.where}; send it as stdin`, r.urn);
      }
    }
  },
};

/**
 * sshd password logins off on every host the estate reaches over SSH (every
 * `connection.host`, except the switches, whose FRR config says spine or leaf: their sshd
 * is the network OS's): some command on the host writes an sshd config with
 * PasswordAuthentication and KbdInteractiveAuthentication `no`, and no sshd config
 * anywhere turns them on.
 */
export const sshdNoPasswords: StackValidationPolicy = {
  name: "estate-sshd-no-password-logins",
  description: "Every server's sshd config turns password and keyboard-interactive logins off.",
  enforcementLevel: "mandatory",
  validateStack: (args, report) => {
    const switches = new Set(
      frrConfigs(args.resources)
        .filter((f) => f.frr.tier === "spine" || f.frr.tier === "leaf")
        .map((f) => str(data(f.r.props).connection?.host))
        .filter((h): h is string => !!h),
    );
    const hardened = new Set<string>();
    const hosts = new Map<string, string>();
    for (const r of commands(args.resources)) {
      const d = data(r.props);
      const host = str(d.connection?.host);
      if (!host || switches.has(host)) continue;
      if (!hosts.has(host)) hosts.set(host, r.urn);
      const stdin = str(d.stdin) ?? "";
      const line = [d.create, d.update].map(str).join("\n");
      for (const cfg of sshdConfigs(stdin, line)) {
        const problems = sshdPasswordProblems(cfg.text);
        if (problems.length) report(`${r.name}: ${cfg.path} on ${host}: ${problems.join("; ")}`, r.urn);
        else hardened.add(host);
      }
    }
    for (const [host, urn] of hosts)
      if (!hardened.has(host))
        report(`host ${host}: no command writes an sshd config that turns password logins off`, urn);
  },
};

/** Every remote command pins the host key it accepts (`connection.hostKey`, also for a proxy jump). */
export const hostKeyPinned: ResourceValidationPolicy = {
  name: "estate-ssh-host-key-pinned",
  description: "Every remote command pins the SSH host key (connection.hostKey), never trust on first use.",
  enforcementLevel: "mandatory",
  validateResource: (args, report) => {
    if (args.type !== COMMAND) return;
    const c = data(args.props).connection;
    if (isUnknown(c)) return; // known at `pulumi up`
    if (!c) return report(`${args.name}: no connection`);
    const pinned = (x: any): boolean => {
      const k = x?.hostKey;
      return isUnknown(k) || (typeof k === "string" && /^(ssh-|ecdsa-|sk-)\S+ [A-Za-z0-9+/=]{16,}/.test(k.trim()));
    };
    if (!pinned(c)) report(`${args.name}: connection to ${str(c.host) ?? "?"} has no pinned hostKey`);
    if (c.proxy && !pinned(c.proxy)) report(`${args.name}: proxy ${str(c.proxy.host) ?? "?"} has no pinned hostKey`);
  },
};

/** The pack, in the order a reader meets the tiers. */
export const policies = [
  hostKeyPinned,
  sshdNoPasswords,
  asnsUniqueAcrossTiers,
  bfdOnEveryFabricSession,
  cephReplicasFitHosts,
  meshMtlsStrict,
  prometheusRulesSelected,
  noSecretInCommand,
];

export type { ReportViolation };
