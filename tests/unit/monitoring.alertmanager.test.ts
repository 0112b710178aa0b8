/**
 * Alertmanager's configuration: what the chart makes of it (its default `alertmanager.config`
 * merged with ours, as Helm merges values) passes Debian's `amtool check-config` with the
 * credential files in place; a broken one fails; routing and inhibition do what the model
 * says (amtool's own route test); credentials are files, never values.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import {
  alertmanagerConfig,
  type AlertmanagerInput,
  credentialFile,
  credentialsData,
  NULL_RECEIVER,
} from "../../components/monitoring/alertmanager";
import { alertmanagerInputFor } from "../../components/monitoring/input";
import { estateOf } from "../helpers/config";
import { helmMerge } from "../helpers/helm";
import { loadRef } from "../helpers/reference";
import { requireTool } from "../helpers/tools";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "estate-amtool-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The chart's default `alertmanager.config`. */
const chartDefault = (): unknown =>
  (loadRef("kube-prometheus-stack/88.5.3/values.yaml") as { alertmanager: { config: unknown } }).alertmanager.config;

let files = 0;
/** `config` merged over the chart's default, written to a file of its own. */
function rendered(config: unknown): string {
  const file = path.join(tmp, `alertmanager-${++files}.yml`);
  fs.writeFileSync(file, yaml.dump(helmMerge(chartDefault(), config), { noRefs: true, lineWidth: -1 }));
  return file;
}

/** `amtool check-config` of what the chart makes of `config`. */
function amtool(config: unknown): { status: number; out: string } {
  const r = spawnSync("amtool", ["check-config", rendered(config)], { encoding: "utf8" });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** amtool's route test: the receivers an alert with `labels` reaches. */
function routesFor(config: unknown, labels: string[]): string {
  const r = spawnSync("amtool", ["config", "routes", "test", `--config.file=${rendered(config)}`, ...labels], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

describe("Alertmanager configuration", () => {
  const prod = alertmanagerInputFor(estateOf("prod"));
  const secretsDir = "/run/estate-test/secrets";

  // amtool 0.25 does not open the credential files (Alertmanager reads them per notification).
  before(() => requireTool("amtool", "prometheus-alertmanager"));

  it("passes amtool check-config (0.25) as the chart renders it: prod's receivers, and dev's none", () => {
    const r = amtool(alertmanagerConfig(prod, secretsDir));
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS/);
    assert.match(r.out, /- 3 receivers/);
    assert.match(r.out, /- 4 inhibit rules/);
    const dev = amtool(alertmanagerConfig(alertmanagerInputFor(estateOf("dev")), secretsDir));
    assert.equal(dev.status, 0, dev.out);
  });

  it("fails amtool check-config when broken: a route to an unknown receiver, the chart's Watchdog route without its receiver", () => {
    const broken = alertmanagerConfig(
      { ...prod, routes: [{ receiver: "ops-pager", matchers: ['a="b"'], continue: false }] },
      secretsDir,
    );
    const r = amtool(broken);
    assert.notEqual(r.status, 0);
    assert.match(r.out, /undefined receiver "ops-pager"/);
    // The chart's default Watchdog route needs its receiver: a config that forgot it fails.
    const config = alertmanagerConfig(prod, secretsDir) as { receivers: { name: string }[] };
    const noNull = { ...config, receivers: config.receivers.filter((x) => x.name !== NULL_RECEIVER) };
    assert.notEqual(amtool(noNull).status, 0);
  });

  it("uses only *_file fields amtool 0.25 knows; a webhook's url_file (Alertmanager >= 0.26) is rejected by it", () => {
    const text = JSON.stringify(alertmanagerConfig(prod, secretsDir));
    assert.deepEqual([...new Set(text.match(/"[a-z_]+_file"/g))].sort(), [
      '"auth_password_file"',
      '"credentials_file"',
    ]);
    const withUrlFile = {
      route: { receiver: "w", routes: [] },
      receivers: [{ name: "w", webhook_configs: [{ url_file: credentialFile("ops-webhook-token", secretsDir) }] }],
    };
    const r = amtool(withUrlFile);
    assert.notEqual(r.status, 0);
    assert.match(r.out, /field url_file not found/);
  });

  it("routes by the model: critical to ops-mail, everything else to the default, Watchdog nowhere", () => {
    const config = alertmanagerConfig(prod, secretsDir);
    assert.equal(routesFor(config, ["alertname=HostDown", "severity=critical", "host=ctl-1"]), "ops-mail");
    assert.equal(routesFor(config, ["alertname=NginxDown", "severity=warning", "host=lb-1"]), "ops-webhook");
    assert.equal(routesFor(config, ["alertname=Watchdog", "severity=none"]), NULL_RECEIVER);
    const none = alertmanagerConfig({ ...prod, receivers: [], routes: [], defaultReceiver: undefined }, secretsDir);
    assert.equal(routesFor(none, ["alertname=HostDown"]), NULL_RECEIVER);
  });

  it("groups by alert and host; critical inhibits warning and HostDown the host's other alerts, only with a host", () => {
    const config = alertmanagerConfig(prod) as {
      route: Record<string, unknown>;
      inhibit_rules: { source_matchers: string[]; target_matchers: string[]; equal: string[] }[];
    };
    assert.deepEqual(config.route.group_by, ["alertname", "host"]);
    assert.deepEqual(
      [config.route.group_wait, config.route.group_interval, config.route.repeat_interval],
      ["30s", "5m", "4h"],
    );
    assert.deepEqual(config.inhibit_rules.slice(0, 2), [
      {
        source_matchers: ['severity="critical"', 'host=~".+"'],
        target_matchers: ['severity="warning"'],
        equal: ["host"],
      },
      {
        source_matchers: ['alertname="HostDown"', 'host=~".+"'],
        target_matchers: ['alertname!="HostDown"'],
        equal: ["host"],
      },
    ]);
  });

  it("keeps credentials out of the configuration: files under the mounted Secret, with exactly the named keys", () => {
    const creds = { "ops-webhook-token": "TOKEN-MARK", "ops-mail-password": "MAIL-MARK", unused: "UNUSED-MARK" };
    const text = JSON.stringify(alertmanagerConfig(prod));
    assert.doesNotMatch(text, /MARK/);
    assert.match(text, /\/etc\/alertmanager\/secrets\/alertmanager-estate-credentials\/ops-mail-password/);
    assert.deepEqual(credentialsData(prod, creds), {
      "ops-mail-password": "MAIL-MARK",
      "ops-webhook-token": "TOKEN-MARK",
    });
    assert.throws(() => credentialsData(prod, { "ops-mail-password": "x" }), /ops-webhook-token is not in/);
    const slack: AlertmanagerInput = {
      ...prod,
      receivers: [{ name: "chat", slack: { channel: "#alerts", credential: "chat-url" } }],
      routes: [],
      defaultReceiver: undefined,
    };
    const s = alertmanagerConfig(slack, secretsDir) as { receivers: Record<string, unknown>[] };
    assert.deepEqual(s.receivers[1], {
      name: "chat",
      slack_configs: [
        { channel: "#alerts", api_url_file: credentialFile("chat-url", secretsDir), send_resolved: true },
      ],
    });
    assert.equal(amtool(s).status, 0);
  });
});
