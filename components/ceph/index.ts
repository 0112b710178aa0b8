/**
 * `estate:ceph:CephCluster`: a Ceph cluster deployed by cephadm on the servers with Ceph
 * roles, configured to the model (CRUSH rules per device class, RBD pools per tier, the
 * CSI client, the manager's Prometheus module, the cold tier's S3 user).
 *
 * Children (names from host names, never list positions):
 *   `<name>-fsid`               the cluster's fsid (@pulumi/random UUID), chosen once
 *   `<name>-<host>-prep`        cephadm + podman + the pinned image on each Ceph host
 *   `<name>-fsid-file`          the fsid on the bootstrap host, for bootstrap to read
 *   `<name>-bootstrap`          `cephadm bootstrap` on the first monitor host, once per fsid
 *   `<name>-pubkey`             reads the cluster's SSH public key
 *   `<name>-<host>-authorize`   that key for the SSH user on each other Ceph host
 *   `<name>-<host>-host-add`    `ceph orch host add` with labels from roles (one per host,
 *                               independent of each other: the chain does not grow with hosts)
 *   `<name>-specs`              the service specs file (kind cephadm-spec)
 *   `<name>-apply-specs`        `ceph orch apply -i`, then waits for every OSD up and in
 *   `<name>-configure`          the configuration script, on the bootstrap host's ceph CLI;
 *                               reruns when it changes
 *   `<name>-keys`               reads the CSI key and the S3 keys back (secret stdout)
 *
 * Data safety: nothing here deletes data on delete (no command has a `delete`); the
 * fsid, bootstrap and specs are `protect`ed when `ceph.protect` says so; pools that
 * leave the model are kept unless `ceph.allowDataDeletion`.
 */
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { Estate } from "../../config/model";
import type { HardwareNode } from "../node";
import { remoteFile, remoteScript, remoteStdin, sha256 } from "../shared/remote";
import {
  CEPH_ESTATE_DIR,
  CEPH_FSID_FILE,
  CEPH_SPECS_FILE,
  cephadmSpecs,
  renderApplySpecs,
  renderAuthorizeKey,
  renderBootstrap,
  renderHostAdd,
  renderHostPrep,
  renderReadPublicKey,
  renderSpecs,
} from "./cephadm";
import { cephadmInputFor } from "./cephadm-input";
import { cephPlanFor } from "./input";
import type { CephOutput } from "./output";
import { renderCephConfigure, renderCephReadKeys } from "./render";

export interface CephClusterArgs extends Pick<Estate, "servers" | "pools" | "versions" | "ceph"> {
  /** The HardwareNode of every Ceph host by name: its connection, and readiness to wait for. */
  readonly nodes: Readonly<Record<string, HardwareNode>>;
}

/** What the CSI driver and backups need; every field a secret Output. */
export interface CephKeys {
  readonly csiKey: pulumi.Output<string>;
  readonly s3AccessKey: pulumi.Output<string>;
  readonly s3SecretKey: pulumi.Output<string>;
}

/** The stack output `ceph` as the component holds it: the fsid comes later. */
export type CephOutputs = Omit<CephOutput, "fsid"> & { readonly fsid: pulumi.Output<string> };

export class CephCluster extends pulumi.ComponentResource {
  public readonly fsid: pulumi.Output<string>;
  /** The CSI client's key and the backup user's S3 keys (secret). */
  public readonly keys: CephKeys;
  /** The stack output `ceph` (the fsid is known once the UUID exists). */
  public readonly output: CephOutputs;

  constructor(name: string, args: CephClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("estate:ceph:CephCluster", name, {}, opts);
    const cephadm = cephadmInputFor(args);
    const plan = cephPlanFor(args);
    const protect = args.ceph.protect;
    const nodeOf = (host: string): HardwareNode => {
      const n = args.nodes[host];
      if (!n) throw new Error(`CephCluster ${name}: no HardwareNode for Ceph host ${host}`);
      return n;
    };
    const boot = nodeOf(cephadm.bootstrapHost);
    const onBoot = { connection: boot.connection, user: boot.connection.user, target: cephadm.bootstrapHost };
    const file = (f: string): string => `ceph/${f}`;

    const fsid = new random.RandomUuid(`${name}-fsid`, {}, { parent: this, protect });

    const prep = new Map<string, pulumi.Resource>();
    for (const h of cephadm.hosts) {
      const node = nodeOf(h.name);
      prep.set(
        h.name,
        remoteScript(
          `${name}-${h.name}-prep`,
          {
            connection: node.connection,
            user: node.connection.user,
            script: renderHostPrep(cephadm, h.name),
            target: h.name,
            file: file(`${h.name}/prep.sh`),
          },
          { parent: this, dependsOn: [node] },
        ),
      );
    }

    const fsidFile = remoteFile(
      `${name}-fsid-file`,
      {
        ...onBoot,
        content: fsid.result,
        contentHash: fsid.result.apply(sha256),
        path: CEPH_FSID_FILE,
        mode: "0644",
        file: file("fsid"),
        kind: "data",
      },
      { parent: this, dependsOn: [prep.get(cephadm.bootstrapHost)!] },
    );
    const bootstrap = remoteScript(
      `${name}-bootstrap`,
      { ...onBoot, script: renderBootstrap(cephadm), file: file("bootstrap.sh") },
      { parent: this, dependsOn: [fsidFile], protect },
    );
    const pubkey = remoteScript(
      `${name}-pubkey`,
      { ...onBoot, script: renderReadPublicKey(), file: file("read-pubkey.sh") },
      { parent: this, dependsOn: [bootstrap] },
    );

    const added: pulumi.Resource[] = [];
    for (const h of cephadm.hosts) {
      const deps: pulumi.Resource[] = [bootstrap];
      if (h.name !== cephadm.bootstrapHost) {
        const node = nodeOf(h.name);
        deps.push(
          remoteStdin(
            `${name}-${h.name}-authorize`,
            {
              connection: node.connection,
              user: node.connection.user,
              script: renderAuthorizeKey(cephadm.sshUser),
              payload: pubkey.stdout,
              payloadHash: pubkey.stdout.apply(sha256),
              target: h.name,
              file: file(`${h.name}/authorize-key.sh`),
            },
            { parent: this, dependsOn: [prep.get(h.name)!] },
          ),
        );
      }
      added.push(
        remoteScript(
          `${name}-${h.name}-host-add`,
          { ...onBoot, script: renderHostAdd(h), file: file(`${h.name}/host-add.sh`) },
          { parent: this, dependsOn: deps },
        ),
      );
    }

    const specsText = renderSpecs(cephadmSpecs(cephadm));
    const specs = remoteFile(
      `${name}-specs`,
      {
        ...onBoot,
        content: specsText,
        path: `${CEPH_ESTATE_DIR}/${CEPH_SPECS_FILE}`,
        mode: "0644",
        file: file("specs.yaml"),
        kind: "cephadm-spec",
      },
      { parent: this, dependsOn: added, protect },
    );
    const expectedOsds = cephadm.hosts.reduce((n, h) => n + h.osdDevices.length, 0);
    const applySpecs = remoteScript(
      `${name}-apply-specs`,
      {
        ...onBoot,
        script: renderApplySpecs(expectedOsds),
        triggers: [sha256(specsText)],
        file: file("apply-specs.sh"),
      },
      { parent: this, dependsOn: [specs] },
    );

    // The configuration and the key reader run on the bootstrap host with its ceph CLI
    // (same release as the cluster) and the admin keyring bootstrap left in /etc/ceph.
    const configure = remoteScript(
      `${name}-configure`,
      { ...onBoot, script: renderCephConfigure(plan.configure), file: file("configure.sh") },
      { parent: this, dependsOn: [applySpecs] },
    );
    const keys = remoteScript(
      `${name}-keys`,
      { ...onBoot, script: renderCephReadKeys(plan.configure), file: file("read-keys.sh"), outputIsSecret: true },
      { parent: this, dependsOn: [configure] },
    );
    const parsed = pulumi.secret(keys.stdout.apply((s) => JSON.parse(s) as Record<string, string | undefined>));
    this.keys = {
      csiKey: pulumi.secret(parsed.apply((k) => k.csiKey ?? "")),
      s3AccessKey: pulumi.secret(parsed.apply((k) => k.s3AccessKey ?? "")),
      s3SecretKey: pulumi.secret(parsed.apply((k) => k.s3SecretKey ?? "")),
    };

    this.fsid = fsid.result;
    const monitors = args.servers.filter((s) => s.roles.includes("ceph-mon")).map((s) => s.loopback);
    this.output = {
      fsid: fsid.result,
      monitors,
      rgwEndpoints: plan.rgwEndpoints.map((e) => `http://${e.address}:${e.port}`),
      pools: plan.configure.pools.map((p) => ({
        name: p.name,
        deviceClass: plan.configure.rules.find((r) => r.name === p.rule)!.deviceClass,
        size: p.size,
        minSize: p.minSize,
      })),
      csiClient: plan.configure.csi.client,
      coldTier: plan.configure.rgw ? { bucket: args.ceph.coldTier.bucket, user: plan.configure.rgw.user } : null,
    };
    this.registerOutputs({ fsid: this.fsid, output: this.output });
  }
}
