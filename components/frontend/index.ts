/**
 * `estate:frontend:FrontTier`: an Nginx pair (or more) behind a keepalived VIP on the
 * servers with role `lb`.
 *
 * Children per balancer `<b>` (names from the host name, never list positions):
 *   `<name>-<b>-setup`          non-local bind, Nginx folders (after the node baseline)
 *   `<name>-<b>-tls-cert`       the certificate, 0600, secret
 *   `<name>-<b>-tls-key`        the key, 0600, secret
 *   `<name>-<b>-nginx`          nginx.conf, checked with `nginx -t` before it replaces the live one
 *   `<name>-<b>-nginx-apply`    checks the three together and reloads Nginx; reruns when any changed
 *   `<name>-<b>-vrrp-auth`      keepalived's authentication include, 0600, secret
 *   `<name>-<b>-keepalived`     keepalived.conf, checked with `keepalived -t`
 *   `<name>-<b>-keepalived-apply` checks both and reloads keepalived; reruns when either changed
 * The setup step's `delete` (it is never replaced) disables keepalived, then Nginx: a
 * balancer removed from the stack stops claiming the VIP first, then stops serving.
 * Files are written first and applied once, so a certificate rotated with its key never
 * meets a reload that sees one new and one old.
 */
import * as pulumi from "@pulumi/pulumi";
import { vrrpPasswordOf } from "../../config/frontend";
import type { Estate } from "../../config/model";
import type { HardwareNode } from "../node";
import { asRoot, connectionFor, remoteFile, remoteScript, sha256 } from "../shared/remote";
import {
  FRONTEND_PATHS,
  frontTierInputFor,
  renderKeepalivedApply,
  renderKeepalivedConf,
  renderNginxApply,
  renderNginxConf,
  renderSetup,
  renderVrrpAuth,
} from "./render";

export * from "./render";

export interface FrontTierArgs {
  readonly estate: Estate;
  /** The SSH private key (secret). */
  readonly privateKey: pulumi.Input<string>;
  /** The PEM certificate chain served on the VIP (secret). */
  readonly tlsCertificate: pulumi.Input<string>;
  /** Its PEM private key (secret). */
  readonly tlsKey: pulumi.Input<string>;
  /** The VRRP password the balancers share (secret, 1-8 letters and digits). */
  readonly vrrpPassword: pulumi.Input<string>;
  /** The HardwareNode of each server by name; delivery waits for the balancers' nodes. */
  readonly nodes: Readonly<Record<string, HardwareNode>>;
}

/** Stack output `frontend`: a contract for ops scripts. */
export interface FrontendOutput {
  readonly vip: string;
  readonly balancers: readonly { readonly name: string; readonly address: string; readonly priority: number }[];
  readonly ports: { readonly https: number; readonly http: number };
}

export class FrontTier extends pulumi.ComponentResource {
  public readonly vip: pulumi.Output<string>;
  public readonly summary: pulumi.Output<FrontendOutput>;

  constructor(name: string, args: FrontTierArgs, opts?: pulumi.ComponentResourceOptions) {
    super("estate:frontend:FrontTier", name, {}, opts);
    const input = frontTierInputFor(args.estate);
    const servers = new Map(args.estate.servers.map((s) => [s.name, s]));

    // VRRPv2 PASS authentication (at most 8 characters) guards against a foreign router
    // on the segment, not an attacker who can sniff it.
    const authText = pulumi.secret(pulumi.output(args.vrrpPassword).apply((p) => renderVrrpAuth(vrrpPasswordOf(p))));
    const certificate = pulumi.secret(args.tlsCertificate);
    const key = pulumi.secret(args.tlsKey);
    // Secret hashes: a short secret's hash can be brute-forced.
    const authHash = pulumi.secret(authText.apply(sha256));
    const certificateHash = pulumi.secret(certificate.apply(sha256));
    const keyHash = pulumi.secret(key.apply(sha256));

    let previousKeepalived: pulumi.Resource | undefined;
    for (const b of input.balancers) {
      const server = servers.get(b.name)!;
      const node = args.nodes[b.name];
      if (!node) throw new Error(`FrontTier ${name}: no HardwareNode for balancer ${b.name}`);
      const connection = connectionFor(server.ssh, args.privateKey);
      const user = server.ssh.user;
      const file = (f: string): string => `frontend/${b.name}/${f}`;

      const setup = remoteScript(
        `${name}-${b.name}-setup`,
        {
          connection,
          user,
          script: renderSetup(b.name),
          // A balancer leaving the estate stops claiming the VIP first, then stops serving.
          deleteCommand: [
            asRoot(user, "systemctl disable --now keepalived"),
            asRoot(user, "systemctl disable --now nginx"),
          ].join(" && "),
          target: b.name,
          file: file("setup.sh"),
        },
        { parent: this, dependsOn: [node] },
      );
      const cert = remoteFile(
        `${name}-${b.name}-tls-cert`,
        {
          connection,
          user,
          content: certificate,
          contentHash: certificateHash,
          path: FRONTEND_PATHS.tlsCertificate,
          mode: "0600",
          target: b.name,
          file: file("tls.crt"),
          kind: "nginx",
          secret: true,
        },
        { parent: this, dependsOn: [setup] },
      );
      const tlsKey = remoteFile(
        `${name}-${b.name}-tls-key`,
        {
          connection,
          user,
          content: key,
          contentHash: keyHash,
          path: FRONTEND_PATHS.tlsKey,
          mode: "0600",
          target: b.name,
          file: file("tls.key"),
          kind: "nginx",
          secret: true,
        },
        { parent: this, dependsOn: [cert] },
      );
      const nginxConf = renderNginxConf(input, b.name);
      const nginx = remoteFile(
        `${name}-${b.name}-nginx`,
        {
          connection,
          user,
          content: nginxConf,
          path: FRONTEND_PATHS.nginxConf,
          mode: "0644",
          check: 'nginx -t -q -c "$new"',
          target: b.name,
          file: file("nginx.conf"),
          kind: "nginx",
        },
        { parent: this, dependsOn: [tlsKey] },
      );
      const nginxApply = remoteScript(
        `${name}-${b.name}-nginx-apply`,
        {
          connection,
          user,
          script: renderNginxApply(b.name),
          triggers: [sha256(nginxConf), certificateHash, keyHash],
          target: b.name,
          file: file("nginx-apply.sh"),
        },
        { parent: this, dependsOn: [nginx] },
      );
      const auth = remoteFile(
        `${name}-${b.name}-vrrp-auth`,
        {
          connection,
          user,
          content: authText,
          contentHash: authHash,
          path: FRONTEND_PATHS.vrrpAuth,
          mode: "0600",
          target: b.name,
          file: file("keepalived-auth.conf"),
          kind: "keepalived",
          secret: true,
        },
        { parent: this, dependsOn: [setup] },
      );
      const keepalivedConf = renderKeepalivedConf(input, b.name);
      const keepalived = remoteFile(
        `${name}-${b.name}-keepalived`,
        {
          connection,
          user,
          content: keepalivedConf,
          path: FRONTEND_PATHS.keepalivedConf,
          mode: "0644",
          check: 'keepalived -t -f "$new"',
          target: b.name,
          file: file("keepalived.conf"),
          kind: "keepalived",
        },
        { parent: this, dependsOn: [auth] },
      );
      previousKeepalived = remoteScript(
        `${name}-${b.name}-keepalived-apply`,
        {
          connection,
          user,
          script: renderKeepalivedApply(b.name),
          triggers: [sha256(keepalivedConf), authHash],
          target: b.name,
          file: file("keepalived-apply.sh"),
        },
        // After Nginx runs, so the VIP is only claimed where Nginx serves; and after the
        // balancer of next higher priority, so that with nopreempt the first election goes
        // to the highest priority (balancers are in priority order).
        { parent: this, dependsOn: [keepalived, nginxApply, ...(previousKeepalived ? [previousKeepalived] : [])] },
      );
    }

    const summary: FrontendOutput = {
      vip: input.vip,
      balancers: input.balancers.map((b) => ({ name: b.name, address: b.address, priority: b.priority })),
      ports: { https: input.ports.https, http: input.ports.http },
    };
    this.vip = pulumi.output(input.vip);
    this.summary = pulumi.output(summary);
    this.registerOutputs({ vip: this.vip, summary: this.summary });
  }
}
