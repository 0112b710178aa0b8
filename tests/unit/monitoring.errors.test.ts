/**
 * Monitoring validation: the exact line for each bad value (formats, retention against the
 * volume, the replicated stack's nodes, receivers, routes, matchers, credentials), never
 * quoting a credential; the optional secret is needed only when a receiver names one.
 */
import { strict as assert } from "assert";
import { highAvailabilityOf } from "../../components/monitoring/input";
import { parseEstate, type RawConfig } from "../../config/validate";
import { edit, problems, rawConfig } from "../helpers/config";

function withSecret(raw: RawConfig, key: string, value: string | undefined): RawConfig {
  const values = { ...raw.values };
  const secretKeys = raw.secretKeys.filter((k) => k !== `estate:${key}`);
  if (value === undefined) delete values[`estate:${key}`];
  else values[`estate:${key}`] = value;
  return { ...raw, values, secretKeys: value === undefined ? secretKeys : [...secretKeys, `estate:${key}`] };
}

const SET = "pulumi config set --secret estate:alertmanagerCredentials --stack <stack> < alertmanager-credentials.json";

describe("monitoring validation: errors", () => {
  const prod = rawConfig("prod");
  const dev = rawConfig("dev");
  const am = (raw: RawConfig, f: (a: any) => void) => edit(raw, "monitoring", (m) => void f(m.alertmanager));

  it("accepts the committed stacks; dev has no receiver (a warning) and needs no credentials", () => {
    assert.deepEqual(problems(prod), []);
    const d = withSecret(dev, "alertmanagerCredentials", undefined);
    assert.deepEqual(problems(d), []);
    const r = parseEstate(d);
    assert.ok(r.ok);
    assert.ok(
      r.warnings.includes(
        "estate:monitoring.alertmanager.receivers: is empty: alerts fire in Prometheus and Alertmanager but are sent nowhere; add a receiver (webhook, email or slack)",
      ),
    );
  });

  it("rejects malformed durations, sizes and names, one line each naming the key", () => {
    const raw = edit(prod, "monitoring", (m) => {
      m.retention.time = "15 days";
      m.volumes.grafana = "10GB";
      m.alertmanager.groupWait = "30";
      m.alertmanager.receivers.push({ name: "Ops Pager", webhook: { url: "https://pager.example.net/h" } });
      m.alertmanager.receivers[1].email.to = "ops";
      m.alertmanager.routes[0].matchers = ["severity=critical"];
    });
    assert.deepEqual(problems(raw), [
      'estate:monitoring.retention.time: "15 days" must be a duration in h, d, w or y; write it like 15d',
      'estate:monitoring.volumes.grafana: "10GB" must be a size in Mi, Gi or Ti; write it like 10Gi',
      'estate:monitoring.alertmanager.receivers[1].email.to: "ops" must be an e-mail address; write it like ops@example.net',
      "estate:monitoring.alertmanager.receivers[2].name: \"Ops Pager\" must be a lower-case name (a-z, 0-9, '-' inside, at most 63 characters); write it like ops-mail",
      'estate:monitoring.alertmanager.routes[0].matchers[0]: "severity=critical" must be a matcher label="value" (or !=, =~, !~); write it like severity="critical"',
      'estate:monitoring.alertmanager.groupWait: "30" must be a duration in s, m or h; write it like 30s',
    ]);
  });

  it("rejects an unknown key with a did-you-mean", () => {
    const raw = edit(prod, "monitoring", (m) => void (m.retension = { time: "15d" }));
    assert.deepEqual(problems(raw), [
      "estate:monitoring.retension: unknown key \"retension\"; did you mean 'retention'? allowed keys: scrapeInterval, evaluationInterval, highAvailability, retention, volumes, alertmanager, alerts",
    ]);
  });

  it("rejects a retention larger than 90% of Prometheus' volume", () => {
    const raw = edit(prod, "monitoring", (m) => void (m.retention.size = "190GiB"));
    assert.deepEqual(problems(raw), [
      'estate:monitoring.retention.size: "190GiB" is more than 90% of monitoring.volumes.prometheus (200Gi); Prometheus\' WAL and compaction need the rest, lower it or grow the volume',
    ]);
  });

  it("rejects a critical certificate threshold that is not below the warning one, before any rule is rendered", () => {
    for (const [critical, warning] of [
      [21, 21],
      [30, 21],
    ]) {
      const raw = edit(prod, "monitoring", (m) => {
        m.alerts = { ...(m.alerts ?? {}), certificateCriticalDays: critical, certificateWarningDays: warning };
      });
      assert.deepEqual(problems(raw), [
        `estate:monitoring.alerts.certificateCriticalDays: ${critical} is not below monitoring.alerts.certificateWarningDays (${warning}); the critical alert must come after the warning, lower it or raise the warning`,
      ]);
    }
    const ok = edit(prod, "monitoring", (m) => {
      m.alerts = { ...(m.alerts ?? {}), certificateCriticalDays: 20, certificateWarningDays: 21 };
    });
    assert.deepEqual(problems(ok), []);
  });

  it("rejects a replicated stack without three nodes that run workloads; unset, it follows the nodes", () => {
    const fewer = edit(prod, "servers", (s: { name: string; roles: string[] }[]) => {
      for (const x of s.filter((y) => y.name === "wrk-2" || y.name === "wrk-3")) x.roles = ["ceph-rgw"];
    });
    assert.deepEqual(problems(fewer), []);
    const r = parseEstate(fewer);
    assert.ok(r.ok);
    assert.equal(highAvailabilityOf(r.estate), false, "one agent: not replicated");
    const on = edit(fewer, "monitoring", (m) => void (m.highAvailability = true));
    assert.deepEqual(problems(on), [
      "estate:monitoring.highAvailability: is true but only 1 Kubernetes node runs workloads; the replicated monitoring stack (3 Alertmanagers) needs 3, add nodes or set it to false",
    ]);
  });

  it("rejects duplicate, reserved and empty receivers, and routes to receivers that do not exist", () => {
    const raw = am(prod, (a) => {
      a.receivers.push({ name: "ops-mail", webhook: { url: "https://x.example.net/h" } });
      a.receivers.push({ name: "null" });
      a.routes.push({ receiver: "ops-mial", matchers: ['alertname=~"Ceph(.*"'] });
    });
    assert.deepEqual(problems(raw), [
      'estate:monitoring.alertmanager.receivers[2].name: "ops-mail" is also receivers[1]; give each receiver its own name',
      'estate:monitoring.alertmanager.receivers[3].name: "null" is reserved (the receiver that drops alerts, e.g. Watchdog); pick another name',
      'estate:monitoring.alertmanager.receivers[3]: "null" has no integration; give it a webhook, email or slack',
      "estate:monitoring.alertmanager.routes[1].receiver: \"ops-mial\" is not a receiver; did you mean 'ops-mail'? name one of ops-webhook, ops-mail, ops-mail, null",
      'estate:monitoring.alertmanager.routes[1].matchers[0]: "alertname=~\\"Ceph(.*\\"" has a regular expression that does not compile; fix the pattern, e.g. alertname=~"Ceph.*"',
    ]);
  });

  it("needs the credentials only when a receiver names one, and names the missing credential, never a value", () => {
    assert.deepEqual(problems(withSecret(prod, "alertmanagerCredentials", undefined)), [
      `estate:monitoring.alertmanager.receivers[0].webhook.credential: "ops-webhook-token" names a credential but estate:alertmanagerCredentials is not set; set it with: ${SET}`,
      `estate:monitoring.alertmanager.receivers[1].email.credential: "ops-mail-password" names a credential but estate:alertmanagerCredentials is not set; set it with: ${SET}`,
    ]);
    const partial = withSecret(prod, "alertmanagerCredentials", JSON.stringify({ "ops-webhook-token": "SECRET-MARK" }));
    const lines = problems(partial);
    assert.deepEqual(lines, [
      'estate:monitoring.alertmanager.receivers[1].email.credential: "ops-mail-password" is not a key of estate:alertmanagerCredentials; add it to the secret or name one of ops-webhook-token',
    ]);
    const garbage = problems(withSecret(prod, "alertmanagerCredentials", "SECRET-MARK"));
    assert.deepEqual(garbage, [
      `estate:alertmanagerCredentials: is not a JSON object of non-empty strings (the Alertmanager receivers' credentials, a JSON object {"<credential>": "<secret>"}); set it with: ${SET}`,
    ]);
    assert.doesNotMatch([...lines, ...garbage].join("\n"), /SECRET-MARK/);
  });

  it("rejects the credentials stored in plain text", () => {
    const raw = { ...prod, secretKeys: prod.secretKeys.filter((k) => k !== "estate:alertmanagerCredentials") };
    assert.deepEqual(problems(raw), [
      `estate:alertmanagerCredentials: is stored in plain text; remove it (pulumi config rm estate:alertmanagerCredentials --stack prod) and set it with: ${SET.replace("<stack>", "prod")}`,
    ]);
  });
});
