/**
 * Monitoring: Prometheus' retention fits its volume, the replicated stack has the nodes
 * it needs, the certificate alert's critical threshold comes after its warning, and
 * Alertmanager's receivers, routes and credentials refer to each other:
 * unique receiver names, a default receiver and route receivers that exist, every receiver
 * with at least one integration, matchers whose regular expressions compile, and every
 * credential a receiver names present in the secret estate:alertmanagerCredentials.
 */
import { MONITORING_HA_NODES, workloadNodeCount } from "../allocate";
import { ALERT_MATCHER, SecretKeys } from "../schema";
import { duplicates, nameList, type Problems, show, suggest } from "../problems";
import type { RuleInput } from ".";

/** Alertmanager's own name for the receiver that drops alerts (Watchdog is routed there). */
export const NULL_RECEIVER = "null";

/** Bytes of a size as the schema writes it (`40GiB`, `50Gi`, `512MiB`). */
export function sizeBytes(size: string): number {
  const m = /^(\d+)(Mi|Gi|Ti)B?$/.exec(size);
  if (!m) return NaN;
  return Number(m[1]) * 1024 ** { Mi: 2, Gi: 3, Ti: 4 }[m[2] as "Mi" | "Gi" | "Ti"];
}

/** The share of Prometheus' volume its data may fill (the WAL and compaction need the rest). */
export const RETENTION_SHARE = 0.9;

/**
 * The credentials' secret text as an object of strings, or why it is not one. Pure: the
 * rules run it on the text, `load.ts` on the secret Output's value.
 */
export function parseCredentials(text: string): { ok: true; value: Record<string, string> } | { ok: false } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false };
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) return { ok: false };
  if (!Object.values(v).every((x) => typeof x === "string" && x.length > 0)) return { ok: false };
  return { ok: true, value: v as Record<string, string> };
}

export function monitoringRules({ config, secrets }: RuleInput, problems: Problems): void {
  const { monitoring, servers } = config;
  if (!monitoring) return;

  const { retention, volumes } = monitoring;
  const limit = sizeBytes(volumes.prometheus) * RETENTION_SHARE;
  if (sizeBytes(retention.size) > limit)
    problems.add(
      "monitoring.retention.size",
      `${show(retention.size)} is more than ${RETENTION_SHARE * 100}% of monitoring.volumes.prometheus (${volumes.prometheus}); Prometheus' WAL and compaction need the rest, lower it or grow the volume`,
    );

  const { alerts } = monitoring;
  if (alerts.certificateCriticalDays >= alerts.certificateWarningDays)
    problems.add(
      "monitoring.alerts.certificateCriticalDays",
      `${alerts.certificateCriticalDays} is not below monitoring.alerts.certificateWarningDays (${alerts.certificateWarningDays}); the critical alert must come after the warning, lower it or raise the warning`,
    );

  // Unset, it follows the cluster and the nodes (monitoringReplicated); set true, the nodes must be there.
  if (monitoring.highAvailability && servers) {
    const n = workloadNodeCount(servers);
    if (n < MONITORING_HA_NODES)
      problems.add(
        "monitoring.highAvailability",
        `is true but only ${n} Kubernetes node${n === 1 ? "" : "s"} run${n === 1 ? "s" : ""} workloads; the replicated monitoring stack (3 Alertmanagers) needs ${MONITORING_HA_NODES}, add nodes or set it to false`,
      );
  }

  const am = monitoring.alertmanager;
  const names = am.receivers.map((r) => r.name);
  for (const [name, idx] of duplicates(am.receivers, (r) => r.name))
    for (const i of idx.slice(1))
      problems.add(
        `monitoring.alertmanager.receivers[${i}].name`,
        `${show(name)} is also receivers[${idx[0]}]; give each receiver its own name`,
      );
  am.receivers.forEach((r, i) => {
    if (r.name === NULL_RECEIVER)
      problems.add(
        `monitoring.alertmanager.receivers[${i}].name`,
        `${show(r.name)} is reserved (the receiver that drops alerts, e.g. Watchdog); pick another name`,
      );
    if (!r.webhook && !r.email && !r.slack)
      problems.add(
        `monitoring.alertmanager.receivers[${i}]`,
        `${show(r.name)} has no integration; give it a webhook, email or slack`,
      );
  });
  const known = (key: string, name: string): void => {
    if (!names.includes(name))
      problems.add(
        key,
        `${show(name)} is not a receiver; ${suggest(name, names)}name one of ${names.length ? nameList(names) : "(none: add monitoring.alertmanager.receivers)"}`,
      );
  };
  if (am.defaultReceiver !== undefined) known("monitoring.alertmanager.defaultReceiver", am.defaultReceiver);
  am.routes.forEach((route, i) => {
    known(`monitoring.alertmanager.routes[${i}].receiver`, route.receiver);
    route.matchers.forEach((m, j) => {
      const parts = ALERT_MATCHER.exec(m);
      if (!parts || !parts[2].includes("~")) return;
      try {
        new RegExp(`^(?:${parts[3]})$`);
      } catch {
        problems.add(
          `monitoring.alertmanager.routes[${i}].matchers[${j}]`,
          `${show(m)} has a regular expression that does not compile; fix the pattern, e.g. alertname=~"Ceph.*"`,
        );
      }
    });
  });
  if (am.receivers.length === 0 && am.routes.length === 0)
    problems.warn(
      "monitoring.alertmanager.receivers",
      "is empty: alerts fire in Prometheus and Alertmanager but are sent nowhere; add a receiver (webhook, email or slack)",
    );

  // Credentials: every one a receiver names is in the secret.
  const wanted = am.receivers.flatMap((r, i) =>
    (["webhook", "email", "slack"] as const).flatMap((kind) => {
      const c = r[kind]?.credential;
      return c ? [{ key: `monitoring.alertmanager.receivers[${i}].${kind}.credential`, name: c }] : [];
    }),
  );
  const text = secrets.alertmanagerCredentials;
  const spec = SecretKeys.alertmanagerCredentials;
  if (text === undefined || text === "") {
    for (const w of wanted)
      problems.add(
        w.key,
        `${show(w.name)} names a credential but estate:alertmanagerCredentials is not set; set it with: ${spec.setCommand("<stack>")}`,
      );
    return;
  }
  const parsed = parseCredentials(text);
  if (!parsed.ok) {
    problems.add(
      "alertmanagerCredentials",
      `is not a JSON object of non-empty strings (${spec.what}); set it with: ${spec.setCommand("<stack>")}`,
    );
    return;
  }
  const have = Object.keys(parsed.value).sort();
  for (const w of wanted)
    if (!(w.name in parsed.value))
      problems.add(
        w.key,
        `${show(w.name)} is not a key of estate:alertmanagerCredentials; ${suggest(w.name, have)}add it to the secret or name one of ${have.length ? nameList(have) : "(none)"}`,
      );
}
