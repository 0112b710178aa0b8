/**
 * `estate:frontend:Frontend`: an Nginx pair (or more) behind a keepalived VIP on the
 * servers with role `lb`.
 *
 * Children per balancer `<b>` (names from the host name, never list positions):
 *   `<name>-<b>-setup`          Nginx folders, nftables loads the estate's rule files (after the node baseline)
 *   `<name>-<b>-tls-cert`       the certificate, 0600, secret
 *   `<name>-<b>-tls-key`        the key, 0600, secret
 *   `<name>-<b>-nginx`          nginx.conf, checked with `nginx -t` before it replaces the live one
 *   `<name>-<b>-nginx-apply`    checks the three together and reloads Nginx; reruns when any changed
 *   `<name>-<b>-vrrp-filter`    nftables: VRRP only from the other balancers, checked with `nft -c`, loaded
 *   `<name>-<b>-keepalived-unit` systemd drop-in: restart keepalived when it dies, never leave a stale VIP
 *   `<name>-<b>-nginx-check`    the Nginx check keepalived runs, 0755
 *   `<name>-<b>-vrrp-notify`    keepalived's notify script: VRRP state into the node exporter's textfile collector, 0755
 *   `<name>-<b>-nginx-exporter` the Nginx exporter on the balancer's loopback, from stub_status (after Nginx runs)
 *   `<name>-<b>-keepalived`     keepalived.conf, checked with `keepalived -t`
 *   `<name>-<b>-keepalived-apply` checks it, loads the filter, reloads keepalived; reruns when it changed
 * The setup step's `delete` (it is never replaced) disables keepalived, then Nginx: a
 * balancer removed from the stack stops claiming the VIP first, then stops serving.
 * Files are written first and applied once, so a certificate rotated with its key never
 * meets a reload that sees one new and one old.
 */
import * as pulumi from "@pulumi/pulumi";
import type { HardwareNode } from "../node";
import { asRoot, remoteFile, remoteScript, sha256 } from "../shared/remote";
import type { FrontendOutput } from "./output";
import { type FrontTierModel, frontTierInputFor } from "./input";
import {
  FRONTEND_PATHS,
  renderKeepalivedApply,
  renderKeepalivedConf,
  renderKeepalivedDropIn,
  renderNginxApply,
  renderNginxCheck,
  renderNginxConf,
  renderNginxExporter,
  renderSetup,
  renderVrrpFilter,
  renderVrrpNotify,
} from "./render";

/** The model parts it reads: front options and segment, ingress NodePorts, the servers (balancers, upstreams). */
export interface FrontendArgs extends FrontTierModel {
  /** The PEM certificate chain served on the VIP (secret). */
  readonly tlsCertificate: pulumi.Input<string>;
  /** Its PEM private key (secret). */
  readonly tlsKey: pulumi.Input<string>;
  /** The balancers' HardwareNodes by name (others may be there); delivery waits for them. */
  readonly nodes: Readonly<Record<string, HardwareNode>>;
}

export class Frontend extends pulumi.ComponentResource {
  /** The stack output `frontend`. */
  public readonly output: pulumi.Output<FrontendOutput>;

  constructor(name: string, args: FrontendArgs, opts?: pulumi.ComponentResourceOptions) {
    // Named FrontTier until the one naming: the alias keeps existing stacks' resources.
    super(
      "estate:frontend:Frontend",
      name,
      {},
      {
        ...opts,
        aliases: [...(opts?.aliases ?? []), { type: "estate:frontend:FrontTier" }],
      },
    );
    const input = frontTierInputFor(args);

    const certificate = pulumi.secret(args.tlsCertificate);
    const key = pulumi.secret(args.tlsKey);
    // Secret hashes: a short secret's hash can be brute-forced.
    const certificateHash = pulumi.secret(certificate.apply(sha256));
    const keyHash = pulumi.secret(key.apply(sha256));

    let previousKeepalived: pulumi.Resource | undefined;
    for (const b of input.balancers) {
      const node = args.nodes[b.name];
      if (!node) throw new Error(`Frontend ${name}: no HardwareNode for balancer ${b.name}`);
      const { connection } = node;
      const user = connection.user;
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
      // VRRPv3 has no authentication: the filter admits VRRP only from the other balancers.
      const filterText = renderVrrpFilter(input, b.name);
      const filter = remoteFile(
        `${name}-${b.name}-vrrp-filter`,
        {
          connection,
          user,
          content: filterText,
          path: FRONTEND_PATHS.vrrpFilter,
          mode: "0644",
          check: 'nft -c -f "$new"',
          onChange: `nft -f ${FRONTEND_PATHS.vrrpFilter}`,
          target: b.name,
          file: file("vrrp-filter.nft"),
          kind: "nftables",
        },
        { parent: this, dependsOn: [setup] },
      );
      const unit = remoteFile(
        `${name}-${b.name}-keepalived-unit`,
        {
          connection,
          user,
          content: renderKeepalivedDropIn(input, b.name),
          path: FRONTEND_PATHS.keepalivedDropIn,
          mode: "0644",
          onChange: "systemctl daemon-reload",
          target: b.name,
          file: file("keepalived.service.d/estate.conf"),
          kind: "systemd",
        },
        { parent: this, dependsOn: [setup] },
      );
      const check = remoteFile(
        `${name}-${b.name}-nginx-check`,
        {
          connection,
          user,
          content: renderNginxCheck(),
          path: FRONTEND_PATHS.nginxCheck,
          mode: "0755",
          check: 'sh -n "$new"',
          target: b.name,
          file: file("nginx-check.sh"),
          kind: "shell",
        },
        { parent: this, dependsOn: [setup] },
      );
      // Monitoring: keepalived's transitions into the textfile collector (keepalived.conf and
      // the drop-in call it); the certificate's notAfter is written by nginx-apply.
      const notify = remoteFile(
        `${name}-${b.name}-vrrp-notify`,
        {
          connection,
          user,
          content: renderVrrpNotify(input, b.name),
          path: FRONTEND_PATHS.vrrpNotify,
          mode: "0755",
          check: 'bash -n "$new"',
          target: b.name,
          file: file("vrrp-notify.sh"),
          kind: "shell",
        },
        { parent: this, dependsOn: [setup] },
      );
      remoteScript(
        `${name}-${b.name}-nginx-exporter`,
        {
          connection,
          user,
          script: renderNginxExporter(input, b.name),
          target: b.name,
          file: file("nginx-exporter.sh"),
        },
        { parent: this, dependsOn: [nginxApply] },
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
        // `keepalived -t` fails while a script it runs is missing.
        { parent: this, dependsOn: [check, notify] },
      );
      previousKeepalived = remoteScript(
        `${name}-${b.name}-keepalived-apply`,
        {
          connection,
          user,
          script: renderKeepalivedApply(b.name),
          triggers: [sha256(keepalivedConf)],
          target: b.name,
          file: file("keepalived-apply.sh"),
        },
        // After Nginx runs, the filter is loaded and systemd knows the restart settings; and
        // one balancer at a time, highest priority first (balancers are in priority order):
        // the VIP stays where it is while the others reload.
        {
          parent: this,
          dependsOn: [
            keepalived,
            nginxApply,
            filter,
            unit,
            notify,
            ...(previousKeepalived ? [previousKeepalived] : []),
          ],
        },
      );
    }

    const output: FrontendOutput = {
      vip: input.vip,
      balancers: input.balancers.map((b) => ({ name: b.name, address: b.address, priority: b.priority })),
      ports: { https: input.ports.https, http: input.ports.http },
    };
    this.output = pulumi.output(output);
    this.registerOutputs({ output: this.output });
  }
}
