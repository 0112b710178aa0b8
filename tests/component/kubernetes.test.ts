/**
 * KubernetesCluster under Pulumi's mocks: children by host name and parent, the one
 * Provider on every Kubernetes resource and Release, the deploy graph (the first server,
 * then every join in parallel; Calico before its users; the roll one server at a time and
 * agents in batches, each after Ready) and its longest chain, and secrets (tokens,
 * kubeconfig, keys) only as stdin or secret outputs, never in a command or an artifact.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { CephCluster } from "../../components/ceph";
import { KubernetesCluster } from "../../components/kubernetes";
import { KubernetesOutput } from "../../components/kubernetes/output";
import { clearArtifactTags, taggedArtifacts } from "../../components/shared/artifacts";
import type { Estate } from "../../config/model";
import { inputAt, installMocks, type RecordedResource, type Recorder, sanitize, settle } from "../../tools/harness";
import { estateOf } from "../helpers/config";
import { hardwareNodes } from "../helpers/nodes";
import { longestCommandChain } from "../helpers/graph";
import { settled } from "../helpers/output";

/** Marks that stand for secret values in the applied (non-preview) build. */
const MARK = {
  token: "TOKENMARK0000000000000000000000000000000000000",
  csiKey: "AQCSIKEYMARK==",
  s3Secret: "S3SECRETMARK",
  kubeconfig: "Q0VSVElGSUNBVEVNQVJL",
} as const;

const KUBECONFIG = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ${MARK.kubeconfig}
    server: https://127.0.0.1:6443
  name: default
kind: Config
users:
- name: default
  user:
    client-key-data: ${MARK.kubeconfig}
`;

interface MockMonitor {
  mocks: {
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, unknown> };
  };
}

async function build(estate: Estate, withValues = false): Promise<{ rec: Recorder; k8s: KubernetesCluster }> {
  clearArtifactTags();
  const rec = installMocks(estate.stack, { values: {}, secretKeys: [] }, true);
  if (withValues) {
    // The random tokens, the kubeconfig and the Ceph keys get values to look for (a
    // preview in which the mocks return them, as a refresh of a deployed stack would).
    const mocks = (pulumi.runtime.getMonitor() as unknown as MockMonitor).mocks;
    const base = mocks.newResource.bind(mocks);
    mocks.newResource = (args) => {
      const r = base(args);
      if (args.type === "random:index/randomPassword:RandomPassword") r.state = { ...r.state, result: MARK.token };
      if (args.name === "kubernetes-kubeconfig") r.state = { ...r.state, stdout: KUBECONFIG };
      if (args.name === "ceph-keys")
        r.state = {
          ...r.state,
          stdout: JSON.stringify({ csiKey: MARK.csiKey, s3AccessKey: "S3ACCESS", s3SecretKey: MARK.s3Secret }),
        };
      if (args.type === "random:index/randomUuid:RandomUuid") r.state = { ...r.state, result: "fsid-1" };
      return r;
    };
  }
  const nodes = hardwareNodes(estate);
  const ceph = new CephCluster("ceph", { ...estate, nodes });
  // The endpoint's stand-in: a balancer node (the stack passes the front tier).
  const endpoint = nodes["lb-1"] ?? nodes["srv-1"];
  const k8s = new KubernetesCluster("kubernetes", { ...estate, nodes, ceph, endpoint });
  await settle();
  return { rec, k8s };
}

/** `prod` with every agent doubled (new names, addresses; servers stay an odd quorum of three). */
function doubledAgents(estate: Estate): Estate {
  const extra = estate.servers
    .filter((s) => s.roles.includes("k8s-agent"))
    .map((s, i) => ({ ...s, name: `${s.name}x`, mgmtAddress: `10.10.0.${200 + i}`, loopback: `10.255.0.${200 + i}` }));
  return { ...estate, servers: [...estate.servers, ...extra] };
}

describe("KubernetesCluster (mocks)", () => {
  let rec: Recorder;
  let estate: Estate;
  let cluster: KubernetesCluster;
  const named = (n: string): RecordedResource => {
    const r = rec.resources.find((x) => x.name === n);
    assert.ok(r, `${n} is registered`);
    return r;
  };
  const dependsOn = (a: string, b: string): boolean => named(a).dependencies.includes(named(b).urn);

  before(async () => {
    estate = estateOf("prod");
    ({ rec, k8s: cluster } = await build(estate));
  });

  it("registers its children by host name, parented to the component", () => {
    const component = named("kubernetes");
    assert.equal(component.type, "estate:kubernetes:Cluster");
    const children = rec.resources.filter((r) => r.parent === component.urn).map((r) => r.name);
    const servers = ["ctl-1", "ctl-2", "ctl-3"];
    const agents = ["wrk-1", "wrk-2", "wrk-3"];
    const want = [
      "kubernetes-token",
      "kubernetes-agent-token",
      "kubernetes-kubeconfig",
      "kubernetes-provider",
      "kubernetes-calico",
      "kubernetes-ns-apps",
      "kubernetes-ns-apps-default-deny",
      "kubernetes-csi-namespace",
      "kubernetes-csi-secret",
      "kubernetes-ceph-csi",
      "kubernetes-sc-kube-hot",
      "kubernetes-sc-kube-warm",
      ...[...servers, ...agents].flatMap((h) => [
        `kubernetes-${h}-config`,
        `kubernetes-${h}-token`,
        `kubernetes-${h}-install`,
        `kubernetes-${h}-roll`,
      ]),
      ...servers.flatMap((h) => [
        `kubernetes-${h}-agent-token`,
        `kubernetes-${h}-etcd-s3`,
        `kubernetes-${h}-snapshot-metric-script`,
        `kubernetes-${h}-snapshot-metric-service`,
        `kubernetes-${h}-snapshot-metric-timer`,
        `kubernetes-${h}-snapshot-metric`,
      ]),
      ...agents.map((h) => `kubernetes-${h}-ready`),
    ];
    assert.deepEqual([...children].sort(), want.sort());
    assert.equal(named("kubernetes-token").type, "random:index/randomPassword:RandomPassword");
    assert.equal(named("kubernetes-provider").type, "pulumi:providers:kubernetes");
    assert.equal(named("kubernetes-calico").type, "kubernetes:helm.sh/v3:Release");
    assert.equal(new Set(rec.resources.map((r) => r.urn)).size, rec.resources.length, "URNs are unique");
  });

  it("installs the etcd snapshot metric on every server (not agents) after its install, removable, rerun on change", () => {
    for (const h of ["ctl-1", "ctl-2", "ctl-3"]) {
      const p = `kubernetes-${h}-snapshot-metric`;
      assert.deepEqual(named(`${p}-script`).dependencies, [named(`kubernetes-${h}-install`).urn]);
      assert.deepEqual(named(`${p}-service`).dependencies, [named(`${p}-script`).urn]);
      assert.deepEqual(named(`${p}-timer`).dependencies, [named(`${p}-service`).urn]);
      assert.deepEqual(
        named(p)
          .dependencies.map((d) => rec.byUrn(d)!.name)
          .sort(),
        [`${p}-script`, `${p}-service`, `${p}-timer`],
      );
      for (const part of ["script", "service", "timer"]) {
        const r = named(`${p}-${part}`).rawInputs;
        assert.match(String(r.delete), new RegExp(part === "script" ? "rm -f /usr/local/sbin/" : "daemon-reload"));
        assert.equal(r.triggers, undefined, "a command with a delete takes no triggers");
      }
      assert.match(
        String(named(`${p}-timer`).rawInputs.delete),
        /systemctl disable --now estate-etcd-snapshot-metric\.timer/,
      );
      // The start step reruns when the script or a unit changes.
      assert.equal((named(p).rawInputs.triggers as unknown[]).length, 4);
      assert.equal(
        inputAt(named(p).rawInputs, "connection.host").value,
        estate.servers.find((s) => s.name === h)!.mgmtAddress,
      );
    }
    for (const h of ["wrk-1", "wrk-2", "wrk-3"])
      assert.ok(!rec.resources.some((r) => r.name.startsWith(`kubernetes-${h}-snapshot-metric`)), h);
    const kinds = taggedArtifacts()
      .filter((t) => t.tag.file.includes("snapshot-metric"))
      .map((t) => `${t.tag.kind} ${t.tag.file}`)
      .filter((t) => t.includes("ctl-1/"))
      .sort();
    assert.deepEqual(kinds, [
      "shell kubernetes/ctl-1/snapshot-metric-enable.sh",
      "shell kubernetes/ctl-1/snapshot-metric.service.install.sh",
      "shell kubernetes/ctl-1/snapshot-metric.sh",
      "shell kubernetes/ctl-1/snapshot-metric.sh.install.sh",
      "shell kubernetes/ctl-1/snapshot-metric.timer.install.sh",
      "systemd kubernetes/ctl-1/snapshot-metric.service",
      "systemd kubernetes/ctl-1/snapshot-metric.timer",
    ]);
  });

  it("uses the one Provider, explicitly, for every Kubernetes resource and Release", () => {
    const provider = named("kubernetes-provider");
    const k8s = rec.resources.filter((r) => r.type.startsWith("kubernetes:"));
    assert.equal(k8s.length, 8);
    for (const r of k8s) assert.ok(r.provider.startsWith(`${provider.urn}::`), `${r.name} uses ${r.provider}`);
  });

  it("reads the kubeconfig back as a secret, never logged, once the endpoint is served", async () => {
    assert.equal(named("kubernetes-kubeconfig").rawInputs.logging, "none");
    assert.ok(dependsOn("kubernetes-kubeconfig", "kubernetes-ctl-1-install"));
    assert.ok(dependsOn("kubernetes-kubeconfig", "lb-1-baseline"), "waits for what serves the API endpoint");
    assert.equal((await settled(cluster.kubeconfig)).secret, true);
  });

  it("starts the first server, then joins every other node in parallel", () => {
    const first = "kubernetes-ctl-1-install";
    assert.ok(dependsOn(first, "kubernetes-ctl-1-config"));
    assert.ok(dependsOn(first, "kubernetes-ctl-1-token"));
    for (const h of ["ctl-2", "ctl-3", "wrk-1", "wrk-2", "wrk-3"]) {
      const install = named(`kubernetes-${h}-install`);
      const installs = install.dependencies.filter((d) => rec.byUrn(d)?.name.endsWith("-install"));
      assert.deepEqual(
        installs.map((d) => rec.byUrn(d)!.name),
        [first],
        `${h} waits for the first server only`,
      );
      assert.equal(
        inputAt(install.rawInputs, "connection.host").value,
        estate.servers.find((s) => s.name === h)!.mgmtAddress,
      );
    }
  });

  it("installs Calico before its users: namespaces, policies, the CSI driver and its StorageClasses", () => {
    assert.ok(dependsOn("kubernetes-calico", "kubernetes-ctl-1-install"));
    assert.ok(dependsOn("kubernetes-ns-apps", "kubernetes-calico"));
    assert.ok(dependsOn("kubernetes-ns-apps-default-deny", "kubernetes-ns-apps"));
    assert.ok(dependsOn("kubernetes-csi-namespace", "kubernetes-calico"));
    assert.ok(dependsOn("kubernetes-csi-secret", "kubernetes-csi-namespace"));
    assert.ok(dependsOn("kubernetes-ceph-csi", "kubernetes-csi-secret"));
    for (const sc of ["kube-hot", "kube-warm"]) assert.ok(dependsOn(`kubernetes-sc-${sc}`, "kubernetes-ceph-csi"));
    const calico = named("kubernetes-calico").rawInputs;
    assert.equal(calico.version, "v3.32.1");
    assert.equal(named("kubernetes-ceph-csi").rawInputs.version, "3.12.2");
  });

  it("rolls servers one at a time after Calico and every install, then agents in batches after Ready", () => {
    const roll1 = named("kubernetes-ctl-1-roll");
    assert.ok(dependsOn("kubernetes-ctl-1-roll", "kubernetes-calico"));
    for (const h of ["ctl-1", "ctl-2", "ctl-3", "wrk-1", "wrk-2", "wrk-3"])
      assert.ok(roll1.dependencies.includes(named(`kubernetes-${h}-install`).urn));
    assert.deepEqual(named("kubernetes-ctl-2-roll").dependencies, [roll1.urn]);
    assert.deepEqual(named("kubernetes-ctl-3-roll").dependencies, [named("kubernetes-ctl-2-roll").urn]);
    // 3 agents at 25 %: batches of one; each waits for the previous batch's Ready check.
    assert.deepEqual(named("kubernetes-wrk-1-roll").dependencies, [named("kubernetes-ctl-3-roll").urn]);
    assert.deepEqual(named("kubernetes-wrk-1-ready").dependencies, [named("kubernetes-wrk-1-roll").urn]);
    assert.deepEqual(named("kubernetes-wrk-2-roll").dependencies, [named("kubernetes-wrk-1-ready").urn]);
    assert.deepEqual(named("kubernetes-wrk-3-roll").dependencies, [named("kubernetes-wrk-2-ready").urn]);
    // The Ready check of an agent runs on the first server.
    assert.equal(inputAt(named("kubernetes-wrk-1-ready").rawInputs, "connection.host").value, "10.10.0.103");
  });

  it("keeps the longest chain of remote steps when the agents double", async () => {
    const base = longestCommandChain(rec.resources);
    const doubled = await build(doubledAgents(estate));
    const twice = longestCommandChain(doubled.rec.resources);
    console.log(`figure kubernetes.chain.prod ${base} steps`);
    console.log(`figure kubernetes.chain.prod_doubled ${twice} steps`);
    console.log(
      `figure kubernetes.resources.prod ${rec.resources.filter((r) => r.urn.includes("estate:kubernetes:Cluster")).length} resources`,
    );
    assert.equal(twice, base);
    // Twice the agents: batches of two, still three batches.
    const wrk2 = doubled.rec.resources.find((r) => r.name === "kubernetes-wrk-2-roll")!;
    assert.deepEqual(wrk2.dependencies.map((d) => doubled.rec.byUrn(d)!.name).sort(), [
      "kubernetes-wrk-1-ready",
      "kubernetes-wrk-1x-ready",
    ]);
  });

  it("tags every node's config, every release's values and every object as artifacts", () => {
    const kinds = taggedArtifacts().map((t) => `${t.tag.kind} ${t.tag.file}`);
    for (const h of ["ctl-1", "wrk-3"]) assert.ok(kinds.includes(`k3s-config kubernetes/${h}/config.yaml`));
    for (const r of ["tigera-operator", "ceph-csi-rbd"])
      assert.ok(kinds.includes(`helm-values kubernetes/releases/${r}.values.yaml`));
    assert.ok(kinds.includes("k8s-object kubernetes/objects/apps-default-deny.yaml"));
    assert.ok(kinds.includes("k8s-object kubernetes/objects/storageclass-kube-hot.yaml"));
  });

  it("publishes the kubernetes stack output by the contract", () => {
    const out = KubernetesOutput.parse(cluster.output);
    assert.deepEqual(out.apiEndpoint, {
      name: "api.prod.estate.internal",
      address: "10.20.0.10",
      port: 6443,
      url: "https://10.20.0.10:6443",
    });
    assert.deepEqual(out.servers, ["ctl-1", "ctl-2", "ctl-3"]);
    assert.deepEqual(out.agents, ["wrk-1", "wrk-2", "wrk-3"]);
    assert.deepEqual(out.storageClasses, [
      { name: "kube-hot", pool: "kube-hot", default: true },
      { name: "kube-warm", pool: "kube-warm", default: false },
    ]);
  });

  describe("with the secrets' values known", () => {
    let applied: Recorder;
    let appliedCluster: KubernetesCluster;
    before(async () => {
      ({ rec: applied, k8s: appliedCluster } = await build(estateOf("dev"), true));
    });

    it("keeps tokens, kubeconfig and keys out of every command string and every artifact", async () => {
      const marks = [MARK.token, MARK.kubeconfig, MARK.csiKey, MARK.s3Secret];
      for (const r of applied.resources.filter((x) => x.type === "command:remote:Command"))
        for (const p of ["create", "update", "delete"]) {
          const text = JSON.stringify(r.rawInputs[p] ?? "");
          for (const m of marks) assert.ok(!text.includes(m), `${r.name}.${p} holds a secret`);
        }
      let checked = 0;
      for (const { resource, tag } of taggedArtifacts()) {
        const urn = await new Promise<string>((resolve) => resource.urn.apply(resolve));
        const r = applied.byUrn(urn);
        assert.ok(r, `${tag.file}: ${urn} is registered`);
        // What the plan writes: secrets (whole or in part) as "[secret]".
        const value = tag.property === "." ? r.rawInputs : inputAt(r.rawInputs, tag.property);
        const text = JSON.stringify(
          sanitize(
            tag.property === "."
              ? value
              : (value as { secret: boolean; value: unknown }).secret
                ? "[secret]"
                : (value as { value: unknown }).value,
          ),
        );
        for (const m of marks) assert.ok(!text.includes(m), `${tag.file} holds a secret`);
        checked++;
      }
      assert.ok(checked > 20, `${checked} artifacts checked`);
    });

    it("sends tokens and keys only as secret stdin, and the kubeconfig is rewritten to the API endpoint", async () => {
      for (const n of ["kubernetes-srv-1-token", "kubernetes-srv-1-agent-token", "kubernetes-srv-1-etcd-s3"]) {
        const r = applied.resources.find((x) => x.name === n)!;
        assert.equal(inputAt(r.rawInputs, "stdin").secret, true, n);
        assert.equal(r.rawInputs.logging, "none", n);
      }
      const csiSecret = applied.resources.find((x) => x.name === "kubernetes-csi-secret")!.rawInputs;
      assert.equal(inputAt(csiSecret, "stringData.userKey").secret, true);
      const provider = applied.resources.find((x) => x.name === "kubernetes-provider")!;
      assert.equal(inputAt(provider.rawInputs, "kubeconfig").secret, true);
      const kc = await settled(appliedCluster.kubeconfig);
      assert.equal(kc.secret, true);
      assert.match(String(kc.value), /server: https:\/\/10\.120\.0\.10:6443/);
    });
  });
});

describe("KubernetesCluster.create (per-node children in batches)", () => {
  /** The cluster's resources in prod, built with `make`; `seen`: what each pace found registered. */
  async function resources(
    make: (args: ConstructorParameters<typeof KubernetesCluster>[1], rec: Recorder) => Promise<KubernetesCluster>,
  ): Promise<{ list: string[]; ready: unknown }> {
    clearArtifactTags();
    const estate = estateOf("prod");
    const rec = installMocks(estate.stack, { values: {}, secretKeys: [] }, true);
    const nodes = hardwareNodes(estate);
    const ceph = new CephCluster("ceph", { ...estate, nodes });
    const k8s = await make({ ...estate, nodes, ceph, endpoint: nodes["lb-1"] ?? nodes["srv-1"] }, rec);
    await settle();
    const list = rec.resources
      .filter((r) => r.urn.includes("estate:kubernetes:Cluster"))
      .map((r) => JSON.stringify([r.urn, r.parent, r.dependencies, r.rawInputs]))
      .sort();
    // What `ready` waits for: the resources its value comes from (the last batch of the roll).
    const from = await (k8s.ready as unknown as { allResources(): Promise<Set<{ __name?: string }>> }).allResources();
    return { list, ready: [await settled(k8s.ready), [...from].map((r) => r.__name).sort()] };
  }

  it("registers exactly what `new` registers, `batch` nodes per `pace`, each batch registered before the next starts", async () => {
    const whole = await resources(async (args) => new KubernetesCluster("kubernetes", args));
    const seen: number[] = [];
    const paced = await resources(async (args, rec) => {
      const children = () => rec.resources.filter((r) => r.parent.endsWith("::kubernetes")).length;
      return KubernetesCluster.create(
        "kubernetes",
        args,
        async () => {
          await settle();
          seen.push(children());
        },
        2,
      );
    });
    assert.ok(whole.list.length > 30, `${whole.list.length} resources`);
    assert.deepEqual(paced.list, whole.list);
    assert.deepEqual(paced.ready, whole.ready);
    assert.ok((whole.ready as [unknown, string[]])[1].length > 0, "ready waits for the roll");
    // Registered in steps: every pace found more than the one before, the last all of them.
    assert.ok(seen.length > 3, `${seen.length} paces`);
    for (let i = 1; i < seen.length - 1; i++) assert.ok(seen[i] > seen[i - 1], `pace ${i}: ${seen.join(",")}`);
    assert.equal(seen.at(-1), whole.list.length - 1);
  });
});
