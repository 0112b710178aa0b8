/**
 * Front tier rules on secret config: the TLS certificate and key parse and belong
 * together; the VRRP password fits VRRPv2. Pure; called from `validate.ts`. Messages
 * never quote the secret values.
 */
import { createPrivateKey, X509Certificate } from "crypto";

/** Problems with the pair, as `[key, message]` relative to `estate:`. */
export function tlsPairProblems(
  certificate: string | undefined,
  key: string | undefined,
  now: Date = new Date(),
): [string, string][] {
  if (!certificate || !key) return []; // missing keys are reported by the secret check
  const out: [string, string][] = [];
  let cert: X509Certificate | undefined;
  try {
    cert = new X509Certificate(certificate);
  } catch {
    out.push([
      "tlsCertificate",
      "is not a PEM X.509 certificate; set the PEM file (-----BEGIN CERTIFICATE-----, leaf first, then intermediates)",
    ]);
  }
  let privateKey: ReturnType<typeof createPrivateKey> | undefined;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    out.push(["tlsKey", "is not an unencrypted PEM private key; set the key file without a passphrase"]);
  }
  if (cert && privateKey) {
    if (!cert.checkPrivateKey(privateKey))
      out.push([
        "tlsKey",
        `does not match estate:tlsCertificate (subject ${JSON.stringify(cert.subject.replace(/\n/g, ", "))}); set the key the certificate was issued for`,
      ]);
    const notAfter = new Date(cert.validTo);
    if (notAfter.getTime() < now.getTime())
      out.push(["tlsCertificate", `expired on ${notAfter.toISOString()}; renew it and set the new certificate`]);
  }
  return out;
}

/** The VRRP password, trimmed (a value set from a pipe may end in a newline). */
export function vrrpPasswordOf(value: string): string {
  return value.trim();
}

/** VRRPv2 PASS authentication carries at most 8 characters; keepalived would silently cut the rest. */
export function vrrpPasswordProblems(value: string | undefined): [string, string][] {
  if (!value) return [];
  const p = vrrpPasswordOf(value);
  // Letters and digits only: '#' and '!' start a comment in keepalived.conf.
  if (!/^[A-Za-z0-9]{1,8}$/.test(p))
    return [["vrrpPassword", `has ${p.length} character(s); use 1-8 letters and digits, e.g. openssl rand -hex 4`]];
  return [];
}
