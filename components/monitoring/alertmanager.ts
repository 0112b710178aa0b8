/**
 * Alertmanager's configuration from the model's receivers and routes. Pure: no Pulumi,
 * no config. Credentials never appear here: a receiver that needs one reads it from a file
 * (`*_file`), which the Alertmanager pods get from a Kubernetes Secret mounted through
 * `alertmanagerSpec.secrets` at `/etc/alertmanager/secrets/<secret>/<key>`.
 *
 * Which `*_file` fields: those Debian's amtool 0.25 (what the tests check with) and the
 * chart's Alertmanager (v0.34.0) both accept: `http_config.authorization.credentials_file`
 * (a webhook's bearer token), `email_configs[].auth_password_file` and
 * `slack_configs[].api_url_file`. A webhook's `url_file` exists only since Alertmanager
 * 0.26 (amtool 0.25 rejects it: "field url_file not found"), so a webhook's URL is plain
 * config and its secret is the bearer token; a receiver whose URL itself is the secret
 * (Slack's incoming webhooks) uses the Slack integration and `api_url_file`.
 *
 * The chart merges this into its default `alertmanager.config` (Helm merges maps and
 * replaces lists): every list and every key of the chart's default `route` is set here,
 * so nothing of the default (its `null` receiver, its Watchdog route, its templates)
 * survives unless it is meant to. The tests run amtool on the merge.
 */
import { TARGET_LABELS } from "./conventions";

/** The Secret with the receivers' credentials (one key per credential). */
export const CREDENTIALS_SECRET = "alertmanager-estate-credentials";
/** Where the operator mounts `alertmanagerSpec.secrets`. */
export const SECRETS_DIR = "/etc/alertmanager/secrets";
/** The receiver that drops alerts (Alertmanager's usual name; the chart's default uses it too). */
export const NULL_RECEIVER = "null";
/** The host-down alert's name (the rules' `HostDown`): it inhibits the host's other alerts. */
export const HOST_DOWN_ALERT = "HostDown";
/** Always-firing alerts of the chart's default rules: a dead man's switch, and an inhibitor helper. */
const SILENT_ALERTS = ["Watchdog", "InfoInhibitor"] as const;

export interface WebhookReceiver {
  readonly url: string;
  /** Credential name: sent as `Authorization: Bearer <value>`. */
  readonly credential?: string;
}
export interface EmailReceiver {
  readonly to: string;
  readonly from: string;
  readonly smarthost: string;
  readonly username?: string;
  /** Credential name: the SMTP password. */
  readonly credential?: string;
}
export interface SlackReceiver {
  readonly channel: string;
  /** Credential name: the incoming-webhook URL. */
  readonly credential: string;
}
export interface Receiver {
  readonly name: string;
  readonly webhook?: WebhookReceiver;
  readonly email?: EmailReceiver;
  readonly slack?: SlackReceiver;
}
export interface Route {
  readonly receiver: string;
  /** Alertmanager matchers, `label="value"` (or `!=`, `=~`, `!~`). */
  readonly matchers: readonly string[];
  readonly continue: boolean;
}
export interface AlertmanagerInput {
  readonly receivers: readonly Receiver[];
  /** @default the first receiver, or the null receiver when there is none */
  readonly defaultReceiver?: string;
  readonly routes: readonly Route[];
  readonly groupWait: string;
  readonly groupInterval: string;
  readonly repeatInterval: string;
}

/** The file a credential is read from inside the Alertmanager pods. */
export function credentialFile(name: string, secretsDir = SECRETS_DIR): string {
  return `${secretsDir}/${CREDENTIALS_SECRET}/${name}`;
}

/** Every credential the receivers name, sorted, once each. */
export function credentialNames(input: Pick<AlertmanagerInput, "receivers">): string[] {
  const names = input.receivers.flatMap((r) =>
    [r.webhook?.credential, r.email?.credential, r.slack?.credential].filter((c): c is string => !!c),
  );
  return [...new Set(names)].sort();
}

/** The credentials Secret's data: exactly the named credentials (values come from the secret config). */
export function credentialsData(
  input: Pick<AlertmanagerInput, "receivers">,
  credentials: Readonly<Record<string, string>>,
): Record<string, string> {
  return Object.fromEntries(
    credentialNames(input).map((n) => {
      const v = credentials[n];
      if (v === undefined) throw new Error(`credential ${n} is not in estate:alertmanagerCredentials`);
      return [n, v];
    }),
  );
}

function receiverConfig(r: Receiver, secretsDir: string): Record<string, unknown> {
  const out: Record<string, unknown> = { name: r.name };
  const file = (c: string) => credentialFile(c, secretsDir);
  if (r.webhook)
    out.webhook_configs = [
      {
        url: r.webhook.url,
        send_resolved: true,
        ...(r.webhook.credential
          ? { http_config: { authorization: { type: "Bearer", credentials_file: file(r.webhook.credential) } } }
          : {}),
      },
    ];
  if (r.email)
    out.email_configs = [
      {
        to: r.email.to,
        from: r.email.from,
        smarthost: r.email.smarthost,
        require_tls: true,
        send_resolved: true,
        ...(r.email.username ? { auth_username: r.email.username } : {}),
        ...(r.email.credential ? { auth_password_file: file(r.email.credential) } : {}),
      },
    ];
  if (r.slack)
    out.slack_configs = [{ channel: r.slack.channel, api_url_file: file(r.slack.credential), send_resolved: true }];
  return out;
}

/**
 * The whole configuration. `secretsDir` moves the credential files (the amtool test
 * points it at a folder of its own; the pods use the default).
 */
export function alertmanagerConfig(input: AlertmanagerInput, secretsDir = SECRETS_DIR): Record<string, unknown> {
  const host = TARGET_LABELS.host;
  // Alerts without the label would be "equal" on it (both empty): the source must carry it.
  const hasHost = `${host}=~".+"`;
  return {
    global: { resolve_timeout: "5m" },
    route: {
      receiver: input.defaultReceiver ?? input.receivers[0]?.name ?? NULL_RECEIVER,
      // One notification per alert and host: a flapping host does not hold others back.
      group_by: ["alertname", host],
      group_wait: input.groupWait,
      group_interval: input.groupInterval,
      repeat_interval: input.repeatInterval,
      routes: [
        ...SILENT_ALERTS.map((a) => ({ receiver: NULL_RECEIVER, matchers: [`alertname="${a}"`] })),
        ...input.routes.map((r) => ({
          receiver: r.receiver,
          matchers: [...r.matchers],
          ...(r.continue ? { continue: true } : {}),
        })),
      ],
    },
    inhibit_rules: [
      // A critical alert of a host silences its warnings (the same cause, seen twice).
      {
        source_matchers: ['severity="critical"', hasHost],
        target_matchers: ['severity="warning"'],
        equal: [host],
      },
      // A host that is down explains every other alert of that host.
      {
        source_matchers: [`alertname="${HOST_DOWN_ALERT}"`, hasHost],
        target_matchers: [`alertname!="${HOST_DOWN_ALERT}"`],
        equal: [host],
      },
      // The chart's own rule for Kubernetes alerts (no host): critical silences the same
      // alert's warning in the same namespace.
      {
        source_matchers: ['severity="critical"', 'namespace=~".+"'],
        target_matchers: ['severity=~"warning|info"'],
        equal: ["namespace", "alertname"],
      },
      // The chart's InfoInhibitor: info alerts only when something worse fires there.
      { source_matchers: ['alertname="InfoInhibitor"'], target_matchers: ['severity="info"'], equal: ["namespace"] },
    ],
    receivers: [{ name: NULL_RECEIVER }, ...input.receivers.map((r) => receiverConfig(r, secretsDir))],
    templates: [],
  };
}
