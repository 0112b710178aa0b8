/**
 * The front tier: balancers with their own address on the segment, the VIP and gateway
 * inside it, two distinct ports, enough (and not too many) balancers; on secret config,
 * the TLS pair parses and matches and the VRRP password fits. Messages never quote a
 * secret value.
 */
import { createPrivateKey, X509Certificate } from "crypto";
import { inPool, isNetworkOrBroadcast, VRRP_MAX_BALANCERS } from "../allocate";
import { duplicates, nameList, type Problems, show } from "../problems";
import type { RuleInput } from ".";

export function frontendRules({ config, secrets }: RuleInput, problems: Problems): void {
  const { servers, frontend, pools } = config;
  for (const [key, message] of tlsPairProblems(secrets.tlsCertificate, secrets.tlsKey)) problems.add(key, message);

  if (servers && pools && frontend) {
    servers.forEach((s, i) => {
      const path = `servers[${i}]`;
      const isLb = s.roles.includes("lb");
      if (isLb && !s.frontend)
        problems.add(
          `${path}.frontend`,
          "is required for role lb; give the balancer's address and NIC on the front-tier segment",
        );
      if (!isLb && s.frontend)
        problems.add(`${path}.frontend`, "is set but the server has no role lb; remove it or add the role");
      if (!s.frontend) return;
      if (!inPool(s.frontend.address, pools.frontend))
        problems.add(
          `${path}.frontend.address`,
          `${show(s.frontend.address)} is outside pools.frontend (${pools.frontend}); use an address inside it`,
        );
      else if (isNetworkOrBroadcast(s.frontend.address, pools.frontend))
        problems.add(
          `${path}.frontend.address`,
          `${show(s.frontend.address)} is the network or broadcast address of pools.frontend; use a host address`,
        );
      if (s.frontend.address === frontend.vip)
        problems.add(
          `${path}.frontend.address`,
          `${show(s.frontend.address)} is the VIP; give the balancer its own address`,
        );
      const nics = new Set(s.hardware.nics.map((n) => n.name));
      if (s.uplinks.some((u) => u.nic === s.frontend?.nic))
        problems.add(
          `${path}.frontend.nic`,
          `${show(s.frontend.nic)} already carries a fabric uplink; use a separate NIC`,
        );
      else if (!nics.has(s.frontend.nic))
        problems.add(
          `${path}.frontend.nic`,
          `${show(s.frontend.nic)} is not in ${path}.hardware.nics; name one of ${nameList([...nics])}`,
        );
    });
    for (const [addr, idx] of duplicates(servers, (s) => s.frontend?.address))
      for (const i of idx.slice(1))
        problems.add(
          `servers[${i}].frontend.address`,
          `${show(addr)} is already used by ${servers[idx[0]].name}; every balancer needs its own address`,
        );
  }

  if (frontend && frontend.ports.https === frontend.ports.http)
    problems.add(
      "frontend.ports.http",
      `${frontend.ports.http} is also frontend.ports.https; HTTP (redirect only) and HTTPS need two ports`,
    );
  if (frontend?.gateway && pools) {
    if (!inPool(frontend.gateway, pools.frontend) || isNetworkOrBroadcast(frontend.gateway, pools.frontend))
      problems.add(
        "frontend.gateway",
        `${show(frontend.gateway)} is not a host address of pools.frontend (${pools.frontend}); name the segment's router`,
      );
    else if (frontend.gateway === frontend.vip)
      problems.add("frontend.gateway", `${show(frontend.gateway)} is the VIP; name the segment's router`);
  }
  if (frontend && pools && servers) {
    if (!inPool(frontend.vip, pools.frontend))
      problems.add(
        "frontend.vip",
        `${show(frontend.vip)} is outside pools.frontend (${pools.frontend}); put the VIP inside the segment`,
      );
    else if (isNetworkOrBroadcast(frontend.vip, pools.frontend))
      problems.add(
        "frontend.vip",
        `${show(frontend.vip)} is the network or broadcast address of pools.frontend; use a host address`,
      );
    const balancers = servers.filter((s) => s.roles.includes("lb"));
    if (balancers.length === 0)
      problems.add("servers", "has no server with role lb; the front tier needs at least one balancer");
    else if (frontend.highAvailability && balancers.length < 2)
      problems.add(
        "frontend.highAvailability",
        `is true but only ${balancers.length} server has role lb; add a second balancer or set it to false`,
      );
    else if (balancers.length > VRRP_MAX_BALANCERS)
      problems.add(
        "servers",
        `has ${balancers.length} servers with role lb; one VRRP group takes at most ${VRRP_MAX_BALANCERS} ` +
          `(priorities 150 down to 10 in steps of 10, keepalived allows 1-254), so give the role lb to at most ${VRRP_MAX_BALANCERS}`,
      );
  }
}

/** Problems with the TLS pair, as `[key, message]` relative to `estate:`. */
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
