/**
 * The edge: reads the stack's Pulumi config once, validates it, and returns the typed
 * estate model and the secrets as secret Outputs. Throws one `ConfigError` listing every
 * problem before any resource is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Estate } from "./model";
import type { SecretKey } from "./schema";
import { parseCredentials } from "./rules/monitoring";
import { parseEstate } from "./validate";

export interface EstateSecrets {
  /** The SSH private key every remote command connects with. */
  readonly sshPrivateKey: pulumi.Output<string>;
  /** Front tier: the PEM certificate chain and its key. */
  readonly tlsCertificate: pulumi.Output<string>;
  readonly tlsKey: pulumi.Output<string>;
  /** Monitoring: Alertmanager's receiver credentials by name (`{}` when unset: no receiver names one). */
  readonly alertmanagerCredentials: pulumi.Output<Record<string, string>>;
}

/** A config error: printed by the CLI without a stack trace (a `RunError`). */
export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: readonly string[]) {
    super(
      `the stack config has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` +
        problems.map((p) => `  ${p}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** Keys whose values are secret, as the CLI (or the offline plan) declared them. */
function secretConfigKeys(values: Record<string, string>): string[] {
  const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  if (!isSecret) throw new Error("@pulumi/pulumi no longer exposes runtime.isConfigSecret; pin 3.248.0");
  return Object.keys(values).filter((k) => isSecret(k));
}

export function loadEstate(): { estate: Estate; secrets: EstateSecrets } {
  const values = pulumi.runtime.allConfig();
  const result = parseEstate({ stack: pulumi.getStack(), values, secretKeys: secretConfigKeys(values) });
  for (const w of result.warnings) pulumi.log.warn(w);
  if (!result.ok) throw new ConfigError(result.problems);
  // Validation passed, so every required secret key is present; each stays a secret Output from here on.
  const secret = (key: SecretKey): pulumi.Output<string> => pulumi.secret(values[`estate:${key}`]);
  const secrets: EstateSecrets = {
    sshPrivateKey: secret("sshPrivateKey"),
    tlsCertificate: secret("tlsCertificate"),
    tlsKey: secret("tlsKey"),
    // Optional; validation proved it a JSON object of strings when it is set.
    alertmanagerCredentials: pulumi.secret(
      secret("alertmanagerCredentials").apply((t) => {
        const parsed = t ? parseCredentials(t) : undefined;
        return parsed?.ok ? parsed.value : {};
      }),
    ),
  };
  return { estate: result.estate, secrets };
}
