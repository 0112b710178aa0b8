/**
 * Monitoring in the offline plans of dev and prod: the Release, its ScrapeConfigs, monitors,
 * rules and dashboards with their artifacts, all through the cluster's Provider; the planned
 * Alertmanager configuration, as the chart merges it, passes amtool; the planned targets
 * are the hosts of the stack's outputs; no credential or password in any artifact.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { helmMerge } from "../helpers/helm";
import { planStack, type PlanResult } from "../helpers/plan";
import { loadRef } from "../helpers/reference";
import { requireTool } from "../helpers/tools";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "estate-monitoring-e2e-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

for (const stack of ["dev", "prod"])
  describe(`monitoring in the plan: ${stack}`, function () {
    this.timeout(120000);
    let plan: PlanResult;
    before(() => {
      plan = planStack(stack);
    });
    const named = (n: string) => plan.resources.find((r) => r.name === n);

    it("registers the Monitoring component with its Release, ScrapeConfigs, monitors, rules and dashboards", () => {
      const component = plan.resources.find((r) => r.type === "estate:monitoring:Monitoring");
      assert.ok(component);
      const release = named("monitoring-release");
      assert.equal(release?.type, "kubernetes:helm.sh/v3:Release");
      assert.equal(release?.inputs.version, "88.5.3");
      for (const job of ["node", "frr", "nginx", "ceph"]) assert.ok(named(`monitoring-scrape-${job}`), job);
      assert.ok(named("monitoring-envoy-stats"));
      assert.ok(named("monitoring-istiod"));
      const children = plan.resources.filter((r) => r.parent === component.urn);
      assert.ok(children.filter((r) => r.name.startsWith("monitoring-rules-")).length >= 5);
      assert.ok(children.filter((r) => r.name.startsWith("monitoring-dashboard-")).length >= 5);
      const provider = plan.resources.find((r) => r.name === "kubernetes-provider")!;
      for (const r of children.filter((x) => x.type.startsWith("kubernetes:")))
        assert.ok(r.provider.startsWith(`${provider.urn}::`), `${r.name} uses the cluster's Provider`);
    });

    it("writes the values, the Alertmanager configuration, objects, rules and dashboards as artifacts", () => {
      const files = plan.index.map((e) => `${e.kind} ${e.path}`);
      assert.ok(files.includes("helm-values monitoring/releases/kube-prometheus-stack.values.yaml"));
      assert.ok(files.includes("alertmanager monitoring/alertmanager.yaml"));
      assert.ok(files.includes("k8s-object monitoring/objects/scrape-node.yaml"));
      assert.ok(plan.ofKind("prometheus-rules").length >= 5);
      assert.ok(plan.ofKind("grafana-dashboard").length >= 5);
    });

    it("plans an Alertmanager configuration that amtool accepts as the chart merges it", () => {
      requireTool("amtool", "prometheus-alertmanager");
      const planned = yaml.load(plan.artifact("monitoring/alertmanager.yaml"));
      const chart = (loadRef("kube-prometheus-stack/88.5.3/values.yaml") as { alertmanager: { config: unknown } })
        .alertmanager.config;
      const file = path.join(tmp, `${stack}-alertmanager.yml`);
      fs.writeFileSync(file, yaml.dump(helmMerge(chart, planned)));
      const r = spawnSync("amtool", ["check-config", file], { encoding: "utf8" });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    });

    it("scrapes the hosts the stack's outputs list, at their loopbacks", () => {
      const outputs = plan.outputs as {
        nodes: { name: string; loopback: string }[];
        fabric: { switches: { name: string; loopback: string }[] };
        monitoring: { scrapeJobs: { job: string; hosts: string[] }[] };
      };
      const hosts = [...outputs.nodes, ...outputs.fabric.switches].map((h) => `${h.name}=${h.loopback}`).sort();
      const node = yaml.load(plan.artifact("monitoring/objects/scrape-node.yaml")) as {
        spec: { staticConfigs: { targets: string[]; labels: { host: string } }[] };
      };
      assert.deepEqual(
        node.spec.staticConfigs.map((c) => `${c.labels.host}=${c.targets[0].replace(/:9100$/, "")}`).sort(),
        hosts,
      );
      assert.deepEqual(
        outputs.monitoring.scrapeJobs.find((j) => j.job === "node")?.hosts,
        hosts.map((h) => h.split("=")[0]).sort(),
      );
    });

    it("keeps the Grafana password and the receivers' credentials out of every artifact", () => {
      // The plan's placeholder credentials (tests/fixtures/plan-only-alertmanager-credentials.json).
      for (const e of plan.index.filter((x) => x.path.startsWith("monitoring/")))
        assert.doesNotMatch(plan.artifact(e.path), /plan-only-not-a-secret/, e.path);
      // The password is random: unknown in a preview, secret once known; never a value here.
      const data = (f: string) =>
        (yaml.load(plan.artifact(`monitoring/objects/${f}.yaml`)) as { stringData: unknown }).stringData;
      assert.ok(["[unknown]", "[secret]"].includes(data("grafana-admin") as string));
      assert.ok(
        ["[unknown]", "[secret]"].includes((plan.outputs as { grafanaAdminPassword: string }).grafanaAdminPassword),
      );
      if (stack === "prod") assert.equal(data("alertmanager-estate-credentials"), "[secret]");
    });
  });
