/** Front-tier validation: exact messages, one line per problem, never quoting a secret. */
import { strict as assert } from "assert";
import { generateKeyPairSync, X509Certificate } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { tlsPairProblems } from "../../config/rules/frontend";
import { parseEstate, type RawConfig } from "../../config/validate";
import { edit, problems, rawConfig } from "../helpers/config";
import { PROJECT_DIR } from "../helpers/plan";

const fixture = (f: string): string => fs.readFileSync(path.join(PROJECT_DIR, "tests", "fixtures", f), "utf8");
const CERT = fixture("plan-only-tls.crt");
const KEY = fixture("plan-only-tls.key");

function withSecret(raw: RawConfig, key: string, value: string | undefined): RawConfig {
  const values = { ...raw.values };
  if (value === undefined) delete values[`estate:${key}`];
  else values[`estate:${key}`] = value;
  return { ...raw, values };
}

describe("front tier validation: errors", () => {
  const prod = rawConfig("prod");

  it("the committed stacks pass with the plan-only fixtures", () => {
    assert.deepEqual(problems(prod), []);
    assert.deepEqual(problems(rawConfig("dev")), []);
  });

  it("a certificate that does not parse", () => {
    assert.deepEqual(problems(withSecret(prod, "tlsCertificate", "not a certificate")), [
      "estate:tlsCertificate: is not a PEM X.509 certificate; set the PEM file (-----BEGIN CERTIFICATE-----, leaf first, then intermediates)",
    ]);
  });

  it("a key that does not parse, without quoting it", () => {
    const lines = problems(withSecret(prod, "tlsKey", "SECRET-GARBAGE"));
    assert.deepEqual(lines, [
      "estate:tlsKey: is not an unencrypted PEM private key; set the key file without a passphrase",
    ]);
  });

  it("a key that belongs to another certificate", () => {
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
      type: "pkcs8",
      format: "pem",
    });
    assert.deepEqual(problems(withSecret(prod, "tlsKey", String(other))), [
      'estate:tlsKey: does not match estate:tlsCertificate (subject "CN=estate-plan-placeholder"); set the key the certificate was issued for',
    ]);
  });

  it("an expired certificate", () => {
    assert.deepEqual(
      tlsPairProblems(CERT, KEY, new Date("2200-01-01T00:00:00Z")).map((p) => p.join(": ")),
      [
        `tlsCertificate: expired on ${new Date(new X509Certificate(CERT).validTo).toISOString()}; renew it and set the new certificate`,
      ],
    );
  });

  it("a missing TLS key names the command that sets it", () => {
    assert.deepEqual(problems(withSecret(prod, "tlsKey", undefined)), [
      "estate:tlsKey: is missing (the PEM private key of estate:tlsCertificate); set it with: pulumi config set --secret estate:tlsKey --stack prod < frontend-key.pem",
    ]);
  });

  it("a VRRP password left from VRRPv2 is a warning that says to remove it, never quoting it", () => {
    const r = parseEstate(withSecret(prod, "vrrpPassword", "abcd1234"));
    assert.ok(r.ok, "the leftover key does not stop the plan");
    assert.deepEqual(r.warnings, [
      "estate:vrrpPassword: is no longer used (VRRPv3 has no authentication; nftables on the balancers admits VRRP only from each other); remove it: pulumi config rm estate:vrrpPassword --stack prod",
    ]);
  });

  it("a TLS key stored in plain text", () => {
    const raw = { ...prod, secretKeys: prod.secretKeys.filter((k) => k !== "estate:tlsKey") };
    assert.deepEqual(problems(raw), [
      "estate:tlsKey: is stored in plain text; remove it (pulumi config rm estate:tlsKey --stack prod) and set it with: pulumi config set --secret estate:tlsKey --stack prod < frontend-key.pem",
    ]);
  });

  it("the VIP outside the segment, or a balancer's own address", () => {
    assert.deepEqual(
      problems(
        edit(prod, "frontend", (f: { vip: string }) => {
          f.vip = "10.30.0.10";
        }),
      ),
      ['estate:frontend.vip: "10.30.0.10" is outside pools.frontend (10.20.0.0/24); put the VIP inside the segment'],
    );
    assert.deepEqual(
      problems(
        edit(prod, "frontend", (f: { vip: string }) => {
          f.vip = "10.20.0.11";
        }),
      ),
      ['estate:servers[0].frontend.address: "10.20.0.11" is the VIP; give the balancer its own address'],
    );
  });
});
