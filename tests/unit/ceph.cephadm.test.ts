/**
 * The cephadm renderers as plain functions: scripts pass shellcheck and bash -n; the
 * service specs select exactly the inventory's OSD devices (never the OS disk) and use
 * only fields cephadm accepts (checked against the pinned reference, with a misspelled
 * field proven to fail).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";
import {
  type CephadmSpec,
  cephadmSpecs,
  renderApplySpecs,
  renderAuthorizeKey,
  renderBootstrap,
  renderHostAdd,
  renderHostPrep,
  renderReadPublicKey,
  renderSpecs,
} from "../../components/ceph/cephadm";
import { cephadmInputFor, cephRelease } from "../../components/ceph/cephadm-input";
import { estateOf } from "../helpers/config";
import { checkScripts } from "../helpers/shellcheck";

const fields = JSON.parse(
  fs.readFileSync(path.join(__dirname, "..", "fixtures", "reference", "cephadm", "osd-spec-fields.json"), "utf8"),
) as {
  spec_fields: string[];
  top_level_fields: Record<string, string>;
  device_selection_filters: { fields: string[] };
  placement_fields: { fields: string[] };
  value_constraints: { objectstore: string[] };
};

/** Every problem of an OSD spec against the reference: unknown fields, filters, values. */
function osdSpecProblems(spec: Record<string, unknown>): string[] {
  const out: string[] = [];
  const allowedTop = new Set([...Object.keys(fields.top_level_fields), ...fields.spec_fields]);
  for (const k of Object.keys(spec)) if (!allowedTop.has(k)) out.push(`unknown top-level field ${k}`);
  const inner = (spec.spec ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(inner))
    if (k === "spec" || !fields.spec_fields.includes(k)) out.push(`unknown spec field ${k}`);
  const placement = (spec.placement ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(placement))
    if (!fields.placement_fields.fields.includes(k)) out.push(`unknown placement field ${k}`);
  if (!spec.placement || Object.keys(placement).length === 0) out.push("placement is required");
  for (const dev of ["data_devices", "db_devices", "wal_devices", "journal_devices"]) {
    const sel = inner[dev] as Record<string, unknown> | undefined;
    if (!sel) continue;
    for (const k of Object.keys(sel))
      if (!fields.device_selection_filters.fields.includes(k)) out.push(`unknown filter ${dev}.${k}`);
    for (const p of (sel.paths ?? []) as unknown[]) {
      if (typeof p === "string") continue;
      for (const k of Object.keys(p as object))
        if (!["path", "crush_device_class"].includes(k)) out.push(`unknown paths item field ${k}`);
    }
  }
  if (!inner.data_devices) out.push("data_devices is required");
  if (inner.objectstore !== undefined && !fields.value_constraints.objectstore.includes(inner.objectstore as string))
    out.push(`objectstore ${String(inner.objectstore)}`);
  return out;
}

describe("ceph: cephadm renderers", () => {
  for (const stack of ["dev", "prod"] as const) {
    const estate = estateOf(stack);
    const input = cephadmInputFor(estate);

    it(`${stack}: every script passes shellcheck and bash -n`, () => {
      const texts: Record<string, string> = {
        prep: renderHostPrep(input, input.bootstrapHost),
        bootstrap: renderBootstrap(input),
        pubkey: renderReadPublicKey(),
        authorize: `#!/usr/bin/env bash\n${renderAuthorizeKey("estate")}\n`,
        apply: renderApplySpecs(12),
      };
      for (const h of input.hosts) texts[`add ${h.name}`] = renderHostAdd(h);
      assert.deepEqual(checkScripts(texts), {});
    });

    it(`${stack}: OSD specs select exactly the inventory's OSD devices, with their classes, never an OS disk`, () => {
      const specs = cephadmSpecs(input);
      const osd = specs.filter((s) => s.service_type === "osd");
      const selected = osd.flatMap((s) => {
        const hosts = (s.placement as { hosts: string[] }).hosts;
        assert.equal(hosts.length, 1);
        const paths = (s.spec as { data_devices: { paths: { path: string; crush_device_class: string }[] } })
          .data_devices.paths;
        return paths.map((p) => `${hosts[0]} ${p.path} ${p.crush_device_class}`);
      });
      const want = estate.servers
        .filter((s) => s.roles.includes("ceph-osd"))
        .flatMap((s) => s.hardware.disks.filter((d) => d.use === "osd").map((d) => `${s.name} ${d.path} ${d.class}`));
      assert.deepEqual(selected.sort(), want.sort());
      const osDisks = estate.servers.flatMap((s) => s.hardware.disks.filter((d) => d.use !== "osd").map((d) => d.path));
      for (const p of osDisks) assert.ok(!selected.some((x) => x.includes(` ${p} `)), p);
    });

    it(`${stack}: every OSD spec field exists in cephadm's OSD spec (reference)`, () => {
      for (const s of cephadmSpecs(input).filter((x) => x.service_type === "osd"))
        assert.deepEqual(osdSpecProblems(s), [], JSON.stringify(s));
    });

    it(`${stack}: monitors and managers are placed on the hosts with those roles`, () => {
      const specs = cephadmSpecs(input);
      const hostsOf = (t: string) => (specs.find((s) => s.service_type === t)!.placement as { hosts: string[] }).hosts;
      const withRole = (r: string) =>
        estate.servers
          .filter((s) => s.roles.includes(r as never))
          .map((s) => s.name)
          .sort();
      assert.deepEqual(hostsOf("mon"), withRole("ceph-mon"));
      assert.deepEqual(hostsOf("mgr"), withRole("ceph-mgr"));
      assert.deepEqual(hostsOf("rgw"), withRole("ceph-rgw"));
    });

    it(`${stack}: the specs text is sorted YAML that reads back as the specs`, () => {
      const specs = cephadmSpecs(input);
      const text = renderSpecs(specs);
      assert.deepEqual(yaml.loadAll(text), JSON.parse(JSON.stringify(specs)));
      assert.equal(renderSpecs(cephadmSpecs(input)), text, "deterministic");
    });
  }

  it("the reference check rejects a misspelled field (the check can fail)", () => {
    const spec = cephadmSpecs(cephadmInputFor(estateOf("dev"))).find((s) => s.service_type === "osd") as CephadmSpec & {
      spec: Record<string, unknown>;
    };
    const broken = { ...spec, spec: { ...spec.spec, crush_device_clas: "nvme" } };
    assert.deepEqual(osdSpecProblems(broken), ["unknown spec field crush_device_clas"]);
    const badFilter = { ...spec, spec: { ...spec.spec, data_devices: { pathz: ["/dev/x"] } } };
    assert.deepEqual(osdSpecProblems(badFilter), ["unknown filter data_devices.pathz"]);
  });

  it("bootstrap leaves a host that runs this fsid alone and refuses another cluster", () => {
    const text = renderBootstrap(cephadmInputFor(estateOf("prod")));
    assert.match(text, /if \[\[ -d "\/var\/lib\/ceph\/\$fsid" \]\]; then/);
    assert.match(text, /refusing to bootstrap a second one/);
    assert.match(text, /--skip-monitoring-stack/);
    assert.match(text, /--skip-dashboard/);
    assert.match(text, /mon_ip='10\.255\.0\.\d+'/);
  });

  it("derives the release cephadm must match from the pinned image", () => {
    assert.equal(cephRelease("quay.io/ceph/ceph:v19.2.3"), "19.2");
    assert.throws(() => cephRelease("quay.io/ceph/ceph:latest"), /no vX\.Y\.Z tag/);
  });
});
