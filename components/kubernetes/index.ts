/**
 * `estate:kubernetes:Cluster`: K3s, highly available with embedded etcd, on the servers
 * with Kubernetes roles; Calico (tigera-operator) as the CNI with network policy; Ceph
 * RBD volumes through ceph-csi-rbd; etcd snapshots to the cold tier's bucket.
 *
 * Children (names from host names, never list positions):
 *   `<name>-token`, `<name>-agent-token`  the join tokens (@pulumi/random, secret)
 *   `<name>-<host>-config`       /etc/rancher/k3s/config.yaml (kind k3s-config)
 *   `<name>-<host>-token`        the token file (servers: server token; agents: agent token), 0600, stdin
 *   `<name>-<host>-agent-token`  servers: the agent token file, 0600, stdin
 *   `<name>-<host>-etcd-s3`      servers, with a cold tier: the S3 credentials drop-in, 0600, stdin
 *   `<name>-<host>-install`      first install and start; the first server first, then every
 *                                other node in parallel (the chain does not grow with nodes)
 *   `<name>-<host>-snapshot-metric-script`, `-service`, `-timer`   servers, after their install:
 *                                the etcd snapshot metric's script and systemd units (each with a
 *                                delete that removes it; the timer's disables it first)
 *   `<name>-<host>-snapshot-metric`  servers: starts the timer, runs the service once
 *   `<name>-kubeconfig`          reads the admin kubeconfig (secret stdout)
 *   `<name>-provider`            the one Kubernetes Provider (kubeconfig rewritten to the API endpoint)
 *   `<name>-calico`              tigera-operator Release (CRDs and operator: before every user)
 *   `<name>-ns-<ns>`, `<name>-ns-<ns>-default-deny`   application namespaces and their policy
 *   `<name>-csi-namespace`, `<name>-csi-secret`, `<name>-ceph-csi`, `<name>-sc-<pool>`
 *   `<name>-<host>-roll`         the rolling step: servers one at a time, then agents in
 *   `<name>-<host>-ready`        batches (agents: Ready checked on the first server)
 *
 * Every Kubernetes resource and Release takes `<name>-provider` explicitly.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { CephCluster } from "../ceph";
import type { HardwareNode } from "../node";
import { tagArtifact } from "../shared/artifacts";
import { remoteFile, remoteScript, sha256 } from "../shared/remote";
import { checksumWarning, k3sInputFor, type KubernetesModel } from "./input";
import type { KubernetesOutput } from "./output";
import {
  agentBatches,
  apiEndpointUrl,
  K3S_AGENT_TOKEN_FILE,
  K3S_API_PORT,
  K3S_CONFIG_FILE,
  K3S_S3_CREDENTIALS_FILE,
  K3S_TOKEN_FILE,
  type K3sNode,
  k3sConfig,
  renderEtcdS3Credentials,
  renderInstall,
  renderK3sConfig,
  renderReadKubeconfig,
  renderReadyCheck,
  renderRoll,
  renderSnapshotMetricDelete,
  renderSnapshotMetricEnable,
  renderSnapshotMetricScript,
  renderSnapshotMetricService,
  renderSnapshotMetricTimer,
  rewriteKubeconfig,
  SNAPSHOT_METRIC,
} from "./render";
import {
  CALICO,
  calicoValues,
  CHART_REPOS,
  CSI,
  csiSecretObject,
  csiValues,
  defaultDenyPolicy,
  namespaceObject,
  storageClassObject,
} from "./values";

export interface KubernetesClusterArgs extends KubernetesModel {
  /** The HardwareNode of every Kubernetes node by name: its connection, and readiness to wait for. */
  readonly nodes: Readonly<Record<string, HardwareNode>>;
  /** The Ceph cluster: fsid, monitors, RBD pools, the CSI key, the cold tier (S3). */
  readonly ceph: Pick<CephCluster, "fsid" | "keys" | "output">;
  /**
   * What serves the API endpoint (the front tier): the kubeconfig, and so the Provider and
   * everything on it, waits for it. @default none
   */
  readonly endpoint?: pulumi.Resource;
}

/** Ceph's monitor port (msgr v1, what the kernel RBD client of ceph-csi dials). */
const CEPH_MON_PORT = 6789;

/** Passed by `create` only: the constructor leaves the per-node children to it. */
const PACED = Symbol("paced");

export class KubernetesCluster extends pulumi.ComponentResource {
  /** The admin kubeconfig, server rewritten to the API endpoint (secret). */
  public readonly kubeconfig: pulumi.Output<string>;
  /** The Provider every Kubernetes resource of the estate uses. */
  public readonly provider: k8s.Provider;
  /** Resolves once every node rolled to the pinned version and is Ready. */
  public readonly ready: pulumi.Output<string>;
  /** The application namespaces by name (the mesh's objects in them wait for them). */
  public readonly namespaces: Readonly<Record<string, k8s.core.v1.Namespace>>;
  /** The stack output `kubernetes`. */
  public readonly output: KubernetesOutput;

  /** Creates the children of the next node, one node a step, in dependency order. */
  private readonly perNode: Iterator<void>;

  /**
   * The same cluster as `new KubernetesCluster`, its per-node children created `batch`
   * nodes at a time with `await pace()` after each batch (stacks/phase.ts: in a preview,
   * until they are registered), so the SDK's pending state is held for one batch, not all.
   */
  static async create(
    name: string,
    args: KubernetesClusterArgs,
    pace: () => Promise<void>,
    batch: number,
    opts?: pulumi.ComponentResourceOptions,
  ): Promise<KubernetesCluster> {
    const cluster = new KubernetesCluster(name, args, opts, PACED);
    for (let n = 1; !cluster.perNode.next().done; n++) if (n % batch === 0) await pace();
    await pace();
    cluster.registerOutputs({ kubeconfig: cluster.kubeconfig, ready: cluster.ready, output: cluster.output });
    return cluster;
  }

  constructor(name: string, args: KubernetesClusterArgs, opts?: pulumi.ComponentResourceOptions, paced?: typeof PACED) {
    super("estate:kubernetes:Cluster", name, {}, opts);
    const cephOut = args.ceph.output;
    const cold = cephOut.coldTier;
    const input = k3sInputFor(args, cold ? { rgwEndpoint: cephOut.rgwEndpoints[0], bucket: cold.bucket } : {});
    const nodeOf = (host: string): HardwareNode => {
      const n = args.nodes[host];
      if (!n) throw new Error(`KubernetesCluster ${name}: no HardwareNode for Kubernetes node ${host}`);
      return n;
    };
    const on = (host: string) => {
      const n = nodeOf(host);
      return { connection: n.connection, user: n.connection.user, target: host };
    };
    const file = (f: string): string => `kubernetes/${f}`;
    const warning = checksumWarning(args);
    if (warning) void pulumi.log.warn(warning, this);
    const first = input.firstServer;

    const token = new random.RandomPassword(`${name}-token`, { length: 48, special: false }, { parent: this });
    const agentToken = new random.RandomPassword(
      `${name}-agent-token`,
      { length: 48, special: false },
      { parent: this },
    );
    // Secret by construction here, not only by @pulumi/random's additionalSecretOutputs.
    const secretFile = (host: string, suffix: string, path: string, value: pulumi.Output<string>) => {
      const content = pulumi.secret(value);
      return remoteFile(
        `${name}-${host}-${suffix}`,
        {
          ...on(host),
          content,
          contentHash: pulumi.secret(content.apply(sha256)),
          path,
          mode: "0600",
          secret: true,
          kind: "data",
          file: file(`${host}/${suffix}`),
        },
        { parent: this, dependsOn: [nodeOf(host)] },
      );
    };
    const s3Credentials = cold
      ? pulumi.secret(
          pulumi
            .all([args.ceph.keys.s3AccessKey, args.ceph.keys.s3SecretKey])
            .apply(([a, s]) => renderEtcdS3Credentials(a, s)),
        )
      : undefined;

    /** Files a node needs before K3s starts; returns them and the config's text. */
    const filesOf = (n: K3sNode): { files: pulumi.Resource[]; configText: string } => {
      const configText = renderK3sConfig(k3sConfig(input, n));
      const files: pulumi.Resource[] = [
        remoteFile(
          `${name}-${n.name}-config`,
          {
            ...on(n.name),
            content: configText,
            path: K3S_CONFIG_FILE,
            mode: "0600",
            kind: "k3s-config",
            file: file(`${n.name}/config.yaml`),
          },
          { parent: this, dependsOn: [nodeOf(n.name)] },
        ),
      ];
      if (n.kind === "server") {
        files.push(secretFile(n.name, "token", K3S_TOKEN_FILE, token.result));
        files.push(secretFile(n.name, "agent-token", K3S_AGENT_TOKEN_FILE, agentToken.result));
        if (s3Credentials) files.push(secretFile(n.name, "etcd-s3", K3S_S3_CREDENTIALS_FILE, s3Credentials));
      } else {
        files.push(secretFile(n.name, "token", K3S_TOKEN_FILE, agentToken.result));
      }
      return { files, configText };
    };

    const nodes = [...input.servers, ...input.agents];
    for (const n of nodes) nodeOf(n.name);
    const prepared = new Map<string, ReturnType<typeof filesOf>>();
    const install = (n: K3sNode, after: pulumi.Resource[]) => {
      prepared.set(n.name, filesOf(n));
      return remoteScript(
        `${name}-${n.name}-install`,
        { ...on(n.name), script: renderInstall(input, n), file: file(`${n.name}/install.sh`) },
        { parent: this, dependsOn: [...prepared.get(n.name)!.files, ...after] },
      );
    };
    const firstInstall = install(first, []);
    const installOf = new Map([[first.name, firstInstall]]);

    const readKubeconfig = remoteScript(
      `${name}-kubeconfig`,
      { ...on(first.name), script: renderReadKubeconfig(), file: file("read-kubeconfig.sh"), outputIsSecret: true },
      { parent: this, dependsOn: [firstInstall, ...(args.endpoint ? [args.endpoint] : [])] },
    );
    const endpointUrl = apiEndpointUrl(input);
    this.kubeconfig = pulumi.secret(readKubeconfig.stdout.apply((t) => rewriteKubeconfig(t, endpointUrl)));
    const provider = new k8s.Provider(`${name}-provider`, { kubeconfig: this.kubeconfig }, { parent: this });
    this.provider = provider;
    const k8sOpts = (dependsOn: pulumi.Input<pulumi.Resource>[] = []): pulumi.CustomResourceOptions => ({
      parent: this,
      provider,
      dependsOn,
    });
    const tagObject = (res: pulumi.Resource, target: string, f: string) =>
      tagArtifact(res, { kind: "k8s-object", target, property: ".", file: file(`objects/${f}.yaml`), format: "yaml" });

    // Calico first: the nodes are not Ready, and no pod runs, until the CNI does.
    const calico = new k8s.helm.v3.Release(
      `${name}-calico`,
      {
        name: CALICO.release,
        chart: CALICO.chart,
        version: args.versions.tigeraOperator,
        repositoryOpts: { repo: CHART_REPOS.tigeraOperator },
        namespace: CALICO.namespace,
        createNamespace: true,
        values: calicoValues({ podCidr: input.podCidr, serviceCidr: input.serviceCidr }),
        timeout: 900,
      },
      k8sOpts([firstInstall]),
    );
    tagArtifact(calico, {
      kind: "helm-values",
      target: CALICO.release,
      property: "values",
      file: file(`releases/${CALICO.release}.values.yaml`),
      format: "yaml",
    });

    // Every application namespace is in the mesh (components/mesh): its pods get sidecars.
    const namespaces: Record<string, k8s.core.v1.Namespace> = {};
    for (const ns of args.kubernetes.applicationNamespaces) {
      const namespace = new k8s.core.v1.Namespace(
        `${name}-ns-${ns}`,
        namespaceObject(ns, { sidecarInjection: true }),
        k8sOpts([calico]),
      );
      namespaces[ns] = namespace;
      tagObject(namespace, ns, `namespace-${ns}`);
      const policy = new k8s.networking.v1.NetworkPolicy(
        `${name}-ns-${ns}-default-deny`,
        defaultDenyPolicy(ns),
        k8sOpts([namespace]),
      );
      tagObject(policy, ns, `${ns}-default-deny`);
    }

    this.namespaces = namespaces;

    const csiNamespace = new k8s.core.v1.Namespace(
      `${name}-csi-namespace`,
      { metadata: { name: CSI.namespace } },
      k8sOpts([calico]),
    );
    tagObject(csiNamespace, CSI.namespace, `namespace-${CSI.namespace}`);
    const csiUser = cephOut.csiClient.replace(/^client\./, "");
    const csiSecret = new k8s.core.v1.Secret(
      `${name}-csi-secret`,
      csiSecretObject(csiUser, pulumi.secret(args.ceph.keys.csiKey)),
      k8sOpts([csiNamespace]),
    );
    tagObject(csiSecret, CSI.namespace, `${CSI.namespace}-${CSI.secret}`);
    const csi = new k8s.helm.v3.Release(
      `${name}-ceph-csi`,
      {
        name: CSI.release,
        chart: CSI.chart,
        version: args.versions.cephCsiRbd,
        repositoryOpts: { repo: CHART_REPOS.cephCsi },
        namespace: CSI.namespace,
        createNamespace: false,
        values: csiValues({
          clusterId: args.ceph.fsid,
          monitors: cephOut.monitors.map((m) => `${m}:${CEPH_MON_PORT}`),
        }),
        timeout: 900,
      },
      k8sOpts([csiSecret, calico]),
    );
    tagArtifact(csi, {
      kind: "helm-values",
      target: CSI.release,
      property: "values",
      file: file(`releases/${CSI.release}.values.yaml`),
      format: "yaml",
    });
    const tiers = cephOut.pools.map((p) => ({ pool: p.name, default: p.name === cephOut.pools[0].name }));
    for (const t of tiers) {
      const sc = new k8s.storage.v1.StorageClass(
        `${name}-sc-${t.pool}`,
        storageClassObject(t, args.ceph.fsid) as unknown as k8s.storage.v1.StorageClassArgs,
        k8sOpts([csi]),
      );
      tagObject(sc, t.pool, `storageclass-${t.pool}`);
    }

    // The per-node children, one node a step: `new` takes every step at once, `create` a
    // batch of steps per phase. What each step creates, and its dependencies, are the same.
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the generator's children are parented to the cluster
    const self = this;
    function* perNode(): Generator<void, void> {
      // Every other server and every agent joins the first, independently of each other.
      for (const n of nodes) {
        if (n.name === first.name) continue;
        installOf.set(n.name, install(n, [firstInstall]));
        yield;
      }

      // Monitoring: every server refreshes the etcd snapshot metric from a systemd timer. The
      // files carry a delete, so they take no triggers (see shared/remote.ts): a changed text
      // arrives as an update; the step that starts the timer reruns on any of their hashes.
      const snapshotMetric = {
        script: renderSnapshotMetricScript(),
        service: renderSnapshotMetricService(),
        timer: renderSnapshotMetricTimer(),
      };
      for (const s of input.servers) {
        const host = on(s.name);
        const part = (
          p: "script" | "service" | "timer",
          extra: { mode: string; kind: "shell" | "systemd"; check?: string; onChange?: string },
          after: pulumi.Resource,
        ) =>
          remoteFile(
            `${name}-${s.name}-snapshot-metric-${p}`,
            {
              ...host,
              ...extra,
              content: snapshotMetric[p],
              path: SNAPSHOT_METRIC[p],
              deleteCommand: renderSnapshotMetricDelete(host.user, p),
              file: file(`${s.name}/snapshot-metric.${p === "script" ? "sh" : p}`),
            },
            // script -> service -> timer: a teardown disables the timer before its service goes.
            { parent: self, dependsOn: [after] },
          );
        const script = part("script", { mode: "0755", kind: "shell", check: 'bash -n "$new"' }, installOf.get(s.name)!);
        const service = part("service", { mode: "0644", kind: "systemd", onChange: "systemctl daemon-reload" }, script);
        const timer = part("timer", { mode: "0644", kind: "systemd", onChange: "systemctl daemon-reload" }, service);
        remoteScript(
          `${name}-${s.name}-snapshot-metric`,
          {
            ...host,
            script: renderSnapshotMetricEnable(),
            triggers: [sha256(snapshotMetric.script), sha256(snapshotMetric.service), sha256(snapshotMetric.timer)],
            file: file(`${s.name}/snapshot-metric-enable.sh`),
          },
          { parent: self, dependsOn: [script, service, timer] },
        );
        yield;
      }

      // The roll: after the CNI and every first install; servers one at a time, then agents
      // in batches, each step waiting for its nodes to be Ready. A failed step stops the rest.
      let previous: pulumi.Resource[] = [calico, ...installOf.values()];
      const roll = (n: K3sNode, after: pulumi.Resource[]) =>
        remoteScript(
          `${name}-${n.name}-roll`,
          {
            ...on(n.name),
            script: renderRoll(input, n),
            triggers: [sha256(prepared.get(n.name)!.configText)],
            file: file(`${n.name}/roll.sh`),
          },
          { parent: self, dependsOn: after },
        );
      for (const s of input.servers) {
        previous = [roll(s, previous)];
        yield;
      }
      for (const batch of agentBatches(input.agents, args.kubernetes.agentBatchPercent)) {
        const after = previous;
        previous = [];
        for (const a of batch) {
          previous.push(
            remoteScript(
              `${name}-${a.name}-ready`,
              { ...on(first.name), script: renderReadyCheck(a.name), file: file(`${a.name}/ready.sh`) },
              { parent: self, dependsOn: [roll(a, after)] },
            ),
          );
          yield;
        }
      }
      const last = previous as (pulumi.Resource & { stdout: pulumi.Output<string> })[];
      readyWhen(pulumi.all(last.map((r) => r.stdout)).apply(() => name));
    }

    this.output = {
      apiEndpoint: { ...input.apiEndpoint, port: K3S_API_PORT, url: endpointUrl },
      servers: input.servers.map((s) => s.name),
      agents: input.agents.map((a) => a.name),
      storageClasses: tiers.map((t) => ({ name: t.pool, pool: t.pool, default: t.default })),
    };
    let readyWhen!: (ready: pulumi.Output<string>) => void;
    this.ready = pulumi.output(new Promise<pulumi.Output<string>>((resolve) => (readyWhen = resolve)));
    this.perNode = perNode();
    if (paced === PACED) return;
    while (!this.perNode.next().done);
    this.registerOutputs({ kubeconfig: this.kubeconfig, ready: this.ready, output: this.output });
  }
}
