/**
 * The estate's Grafana dashboards (components/monitoring/dashboards.ts): five ConfigMaps
 * for the Grafana sidecar, each valid JSON with unique panel ids, every panel with a query,
 * every query parsed by Prometheus' grammar, and every metric a query uses exposed by a
 * planned exporter (the node exporter run for real) or allow-listed with its reason.
 */
import { strict as assert } from "assert";
import { DASHBOARD_LABEL, MONITORING_NAMESPACE } from "../../components/monitoring/conventions";
import {
  dashboardConfigMaps,
  dashboardMetricNames,
  dashboardQueries,
  type Dashboard,
} from "../../components/monitoring/dashboards";
import { dashboardsInputFor } from "../../components/monitoring/rules-input";
import { estateOf } from "../helpers/config";
import { ALLOWED_METRICS, nodeExporterMetrics, THRESHOLDS, unexplained } from "../helpers/monitoring-metrics";

const INPUT = {
  thresholds: THRESHOLDS,
};

describe("monitoring dashboards", function () {
  this.timeout(30000);

  it("five ConfigMaps for the Grafana sidecar, each one valid dashboard JSON", function () {
    const maps = dashboardConfigMaps(INPUT);
    assert.deepEqual(
      maps.map((m) => Object.keys(m.data)),
      [
        ["estate-overview.json"],
        ["estate-fabric.json"],
        ["estate-ceph.json"],
        ["estate-frontend.json"],
        ["estate-mesh.json"],
      ],
    );
    for (const m of maps) {
      assert.equal(m.metadata.namespace, MONITORING_NAMESPACE);
      assert.equal(m.metadata.labels[DASHBOARD_LABEL.key], DASHBOARD_LABEL.value);
      const [file, json] = Object.entries(m.data)[0];
      const d = JSON.parse(json) as Dashboard;
      assert.equal(`${d.uid}.json`, file);
      assert.ok(d.schemaVersion >= 39 && d.title && d.panels.length >= 5, file);
      const ids = d.panels.map((p) => p.id);
      assert.equal(new Set(ids).size, ids.length, `${file}: duplicate panel ids`);
      for (const p of d.panels) {
        assert.ok(p.targets && p.targets.length > 0, `${file} "${p.title}" has no query`);
        for (const t of p.targets) {
          assert.ok(t.expr.trim(), `${file} "${p.title}" ${t.refId}: empty query`);
          assert.equal(t.datasource.uid, "${datasource}");
        }
        assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${file} "${p.title}" is wider than the grid`);
      }
      const vars = (d.templating as { list: { name: string; type: string }[] }).list;
      assert.ok(
        vars.some((v) => v.name === "datasource" && v.type === "datasource"),
        file,
      );
    }
  });

  it("every metric a dashboard uses is exposed by a planned exporter (node exporter run for real) or allow-listed", async function () {
    const node = await nodeExporterMetrics();
    const byDashboard = dashboardMetricNames(INPUT);
    for (const [d, names] of Object.entries(byDashboard)) console.log(`      ${d}: ${names.join(" ")}`);
    for (const [re, why] of ALLOWED_METRICS) console.log(`      allow-list: ${re.source} (${why})`);
    assert.deepEqual(unexplained(Object.values(byDashboard).flat(), node), []);
    assert.ok(Object.keys(byDashboard).length === 5);
    assert.ok(dashboardQueries(INPUT).length >= 30);
  });

  it("the model's thresholds reach the dashboards (dev)", function () {
    const input = dashboardsInputFor(estateOf("dev"));
    const json = dashboardConfigMaps(input)
      .map((m) => Object.values(m.data)[0])
      .join("\n");
    assert.match(json, new RegExp(`"value": ${input.thresholds.cpuBusyRatio}\\b`));
  });
});
