/**
 * Monitoring under Pulumi's mocks: children by stable name and parent, the Release pinned
 * to the model's version through the cluster's Provider (every Kubernetes resource), after
 * the cluster and before the custom resources; Grafana's password and the receivers'
 * credentials secret, only in Secrets, never in the values or any artifact; ScrapeConfig
 * targets equal to the model's hosts; the stack output by its contract.
 */
import { strict as assert } from "assert";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Monitoring } from "../../components/monitoring";
import { MonitoringOutput } from "../../components/monitoring/output";
import { clearArtifactTags, taggedArtifacts } from "../../components/shared/artifacts";
import type { Estate } from "../../config/model";
import { inputAt, installMocks, type RecordedResource, type Recorder, sanitize, settle } from "../../tools/harness";
import { estateOf } from "../helpers/config";
import { settled } from "../helpers/output";

const MARK = { password: "GRAFANAPASSWORDMARK", webhook: "WEBHOOKTOKENMARK", mail: "MAILPASSWORDMARK" } as const;

/** The cluster's stand-in: a component with the one Provider and the StorageClasses of the contract. */
class StandInCluster extends pulumi.ComponentResource {
  public readonly provider: k8s.Provider;
  public readonly output = {
    apiEndpoint: { name: "api", address: "10.20.0.10", port: 6443, url: "https://10.20.0.10:6443" },
    servers: [],
    agents: [],
    storageClasses: [
      { name: "kube-hot", pool: "kube-hot", default: true },
      { name: "kube-warm", pool: "kube-warm", default: false },
    ],
  };
  constructor() {
    super("estate:kubernetes:Cluster", "kubernetes", {});
    this.provider = new k8s.Provider(
      "kubernetes-provider",
      { kubeconfig: pulumi.secret("KUBECONFIG") },
      { parent: this },
    );
    new k8s.storage.v1.StorageClass(
      "kubernetes-sc-kube-hot",
      { metadata: { name: "kube-hot" }, provisioner: "rbd.csi.ceph.com" },
      { parent: this, provider: this.provider },
    );
    this.registerOutputs({});
  }
}

interface MockMonitor {
  mocks: {
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, unknown> };
  };
}

async function build(estate: Estate, withValues = false): Promise<{ rec: Recorder; monitoring: Monitoring }> {
  clearArtifactTags();
  const rec = installMocks(estate.stack, { values: {}, secretKeys: [] }, true);
  if (withValues) {
    const mocks = (pulumi.runtime.getMonitor() as unknown as MockMonitor).mocks;
    const base = mocks.newResource.bind(mocks);
    mocks.newResource = (args) => {
      const r = base(args);
      if (args.type === "random:index/randomPassword:RandomPassword") r.state = { ...r.state, result: MARK.password };
      return r;
    };
  }
  const cluster = new StandInCluster();
  const monitoring = new Monitoring("monitoring", {
    ...estate,
    cluster: cluster as never,
    alertmanagerCredentials: pulumi.secret({
      "ops-webhook-token": MARK.webhook,
      "ops-mail-password": MARK.mail,
      unused: "UNUSED",
    }),
  });
  await settle();
  return { rec, monitoring };
}

describe("Monitoring (mocks)", () => {
  let rec: Recorder;
  let estate: Estate;
  let monitoring: Monitoring;
  const named = (n: string): RecordedResource => {
    const r = rec.resources.find((x) => x.name === n);
    assert.ok(r, `${n} is registered`);
    return r;
  };
  const dependsOn = (a: string, b: string): boolean => named(a).dependencies.includes(named(b).urn);

  before(async () => {
    estate = estateOf("prod");
    ({ rec, monitoring } = await build(estate));
  });

  it("registers its children by stable names, parented to the component", () => {
    const component = named("monitoring");
    assert.equal(component.type, "estate:monitoring:Monitoring");
    const children = rec.resources.filter((r) => r.parent === component.urn).map((r) => r.name);
    const fixed = [
      "monitoring-namespace",
      "monitoring-grafana-password",
      "monitoring-grafana-admin",
      "monitoring-alertmanager-credentials",
      "monitoring-release",
      "monitoring-scrape-node",
      "monitoring-scrape-frr",
      "monitoring-scrape-nginx",
      "monitoring-scrape-ceph",
      "monitoring-envoy-stats",
      "monitoring-istiod",
    ];
    for (const n of fixed) assert.ok(children.includes(n), n);
    const rules = children.filter((n) => n.startsWith("monitoring-rules-"));
    const dashboards = children.filter((n) => n.startsWith("monitoring-dashboard-"));
    assert.ok(rules.length >= 5, rules.join());
    assert.ok(dashboards.length >= 5, dashboards.join());
    assert.equal(children.length, fixed.length + rules.length + dashboards.length);
    assert.equal(named("monitoring-scrape-node").type, "kubernetes:monitoring.coreos.com/v1alpha1:ScrapeConfig");
    assert.equal(new Set(rec.resources.map((r) => r.urn)).size, rec.resources.length, "URNs are unique");
  });

  it("pins the Release to the model's chart version and repository, in the monitoring namespace", () => {
    const r = named("monitoring-release");
    assert.equal(r.type, "kubernetes:helm.sh/v3:Release");
    assert.equal(r.rawInputs.chart, "kube-prometheus-stack");
    assert.equal(r.rawInputs.version, estate.versions.kubePrometheusStack);
    assert.equal(r.rawInputs.version, "88.5.3");
    assert.deepEqual(r.rawInputs.repositoryOpts, { repo: "https://prometheus-community.github.io/helm-charts" });
    assert.equal(r.rawInputs.namespace, "monitoring");
    assert.equal(r.rawInputs.name, "kube-prometheus-stack");
  });

  it("uses the cluster's Provider, explicitly, for every Kubernetes resource", () => {
    const provider = named("kubernetes-provider");
    const k8sResources = rec.resources.filter(
      (r) => r.type.startsWith("kubernetes:") && r.name.startsWith("monitoring"),
    );
    assert.ok(k8sResources.length >= 20, `${k8sResources.length}`);
    for (const r of k8sResources) assert.ok(r.provider.startsWith(`${provider.urn}::`), `${r.name} uses ${r.provider}`);
  });

  it("waits for the cluster (its StorageClasses and roll), then the Secrets, then the Release, then the custom resources", () => {
    // A dependency on the component is one on every resource below it (the SDK expands it).
    assert.ok(dependsOn("monitoring-namespace", "kubernetes-sc-kube-hot"));
    for (const s of ["monitoring-grafana-admin", "monitoring-alertmanager-credentials"]) {
      assert.ok(dependsOn(s, "monitoring-namespace"), s);
      assert.ok(dependsOn("monitoring-release", s), s);
    }
    for (const r of rec.resources.filter((x) => x.type.startsWith("kubernetes:monitoring.coreos.com")))
      assert.ok(r.dependencies.includes(named("monitoring-release").urn), `${r.name} after the Release (its CRDs)`);
  });

  it("scrapes exactly the model's hosts", () => {
    const targets = (job: string) =>
      (
        named(`monitoring-scrape-${job}`).rawInputs.spec as {
          staticConfigs: { targets: string[]; labels: { host: string } }[];
        }
      ).staticConfigs
        .map((c) => `${c.labels.host}=${c.targets[0].split(":")[0]}`)
        .sort();
    const all = [...estate.servers, ...estate.switches].map((h) => `${h.name}=${h.loopback}`).sort();
    assert.deepEqual(targets("node"), all);
    assert.deepEqual(targets("frr"), all);
    const role = (r: string) =>
      estate.servers
        .filter((s) => s.roles.includes(r as never))
        .map((h) => `${h.name}=${h.loopback}`)
        .sort();
    assert.deepEqual(targets("nginx"), role("lb"));
    assert.deepEqual(targets("ceph"), role("ceph-mgr"));
  });

  it("tags the values, the Alertmanager config, every object, rule and dashboard as artifacts", () => {
    const kinds = taggedArtifacts().map((t) => `${t.tag.kind} ${t.tag.file}`);
    assert.ok(kinds.includes("helm-values monitoring/releases/kube-prometheus-stack.values.yaml"));
    assert.ok(kinds.includes("alertmanager monitoring/alertmanager.yaml"));
    assert.ok(kinds.includes("k8s-object monitoring/objects/scrape-node.yaml"));
    assert.ok(kinds.includes("k8s-object monitoring/objects/podmonitor-envoy-stats.yaml"));
    assert.ok(kinds.filter((k) => k.startsWith("prometheus-rules monitoring/rules/")).length >= 5);
    assert.ok(kinds.filter((k) => k.startsWith("grafana-dashboard monitoring/dashboards/")).length >= 5);
  });

  it("publishes the monitoring stack output by the contract, and the password apart as a secret", async () => {
    const out = MonitoringOutput.parse(monitoring.output);
    assert.equal(out.grafana.url, "http://kube-prometheus-stack-grafana.monitoring.svc:80");
    assert.equal(
      out.grafana.portForward,
      "kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80",
    );
    assert.deepEqual(out.replicas, { prometheus: 2, alertmanager: 3 });
    assert.deepEqual([out.scrapeInterval, out.evaluationInterval], ["30s", "60s"]);
    assert.doesNotMatch(JSON.stringify(out), /password"?\s*:/i);
    assert.equal((await settled(monitoring.grafanaAdminPassword)).secret, true);
  });

  describe("with the secrets' values known", () => {
    let applied: Recorder;
    before(async () => {
      ({ rec: applied } = await build(estateOf("prod"), true));
    });

    it("keeps the password and the credentials secret: only in Secrets, never in the values or an artifact", async () => {
      const find = (n: string) => applied.resources.find((x) => x.name === n)!;
      const admin = find("monitoring-grafana-admin").rawInputs;
      assert.equal(inputAt(admin, "stringData.admin-password").secret, true);
      assert.equal(inputAt(admin, "stringData.admin-password").value, MARK.password, "the mark reaches the Secret");
      const creds = find("monitoring-alertmanager-credentials").rawInputs;
      assert.equal(inputAt(creds, "stringData").secret, true);
      assert.deepEqual(Object.keys(inputAt(creds, "stringData").value as object).sort(), [
        "ops-mail-password",
        "ops-webhook-token",
      ]);
      const values = JSON.stringify(find("monitoring-release").rawInputs.values);
      for (const m of Object.values(MARK)) assert.ok(!values.includes(m), `the values hold ${m}`);
      let checked = 0;
      for (const { resource, tag } of taggedArtifacts()) {
        const urn = await new Promise<string>((resolve) => resource.urn.apply(resolve));
        const r = applied.byUrn(urn);
        assert.ok(r, `${tag.file}: ${urn} is registered`);
        const v = inputAt(r.rawInputs, tag.property);
        const text = JSON.stringify(sanitize(v.secret ? "[secret]" : v.value));
        for (const m of Object.values(MARK)) assert.ok(!text.includes(m), `${tag.file} holds a secret`);
        checked++;
      }
      assert.ok(checked >= 20, `${checked} artifacts checked`);
    });
  });
});
