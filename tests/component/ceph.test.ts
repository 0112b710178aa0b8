/**
 * CephCluster under Pulumi's mocks: children by host name and parent, the order of the
 * deploy graph (and that its longest chain does not grow with the Ceph hosts), data
 * safety (no delete, protect where the stack says so), and secrets only as stdin or
 * secret outputs.
 */
import { strict as assert } from "assert";
import { CephCluster } from "../../components/ceph";
import { cephadmSpecs, renderSpecs } from "../../components/ceph/cephadm";
import { cephadmInputFor } from "../../components/ceph/cephadm-input";
import { cephPlanFor } from "../../components/ceph/input";
import { renderCephConfigure } from "../../components/ceph/render";
import { clearArtifactTags, taggedArtifacts } from "../../components/shared/artifacts";
import type { Estate } from "../../config/model";
import {
  inputAt,
  installMocks,
  isSecretValue,
  type RecordedResource,
  type Recorder,
  settle,
} from "../../tools/harness";
import { estateOf } from "../helpers/config";
import { hardwareNodes } from "../helpers/nodes";
import { longestCommandChain } from "../helpers/graph";
import { settled } from "../helpers/output";

async function build(estate: Estate): Promise<{ rec: Recorder; ceph: CephCluster }> {
  clearArtifactTags();
  const rec = installMocks(estate.stack, { values: {}, secretKeys: [] }, true);
  const nodes = hardwareNodes(estate);
  const ceph = new CephCluster("ceph", { ...estate, nodes });
  await settle();
  return { rec, ceph };
}

/** `prod` with every Ceph OSD host doubled (new names, addresses, keys, ports). */
function doubledOsdHosts(estate: Estate): Estate {
  const extra = estate.servers
    .filter((s) => s.roles.includes("ceph-osd"))
    .map((s, i) => ({ ...s, name: `${s.name}x`, mgmtAddress: `10.10.0.${200 + i}`, loopback: `10.255.0.${200 + i}` }));
  return { ...estate, servers: [...estate.servers, ...extra] };
}

describe("CephCluster (mocks)", () => {
  let rec: Recorder;
  let estate: Estate;
  let ceph: CephCluster;
  const named = (n: string): RecordedResource => {
    const r = rec.resources.find((x) => x.name === n);
    assert.ok(r, `${n} is registered`);
    return r;
  };

  before(async () => {
    estate = estateOf("prod");
    ({ rec, ceph } = await build(estate));
  });

  it("registers its children by host name, parented to the component", () => {
    const component = named("ceph");
    assert.equal(component.type, "estate:ceph:CephCluster");
    const children = rec.resources.filter((r) => r.parent === component.urn).map((r) => r.name);
    const hosts = estate.servers.filter((s) => s.roles.some((r) => r.startsWith("ceph-"))).map((s) => s.name);
    const want = [
      "ceph-fsid",
      "ceph-fsid-file",
      "ceph-bootstrap",
      "ceph-pubkey",
      "ceph-specs",
      "ceph-apply-specs",
      "ceph-configure",
      "ceph-keys",
      ...hosts.flatMap((h) => [`ceph-${h}-prep`, `ceph-${h}-host-add`]),
      ...hosts.filter((h) => h !== "ctl-1").map((h) => `ceph-${h}-authorize`),
    ];
    assert.deepEqual([...children].sort(), want.sort());
    assert.equal(named("ceph-fsid").type, "random:index/randomUuid:RandomUuid");
  });

  it("bootstraps on the first monitor host after its preparation and the fsid file", () => {
    const bootstrap = named("ceph-bootstrap");
    assert.ok(bootstrap.dependencies.includes(named("ceph-fsid-file").urn));
    assert.ok(named("ceph-fsid-file").dependencies.includes(named("ceph-ctl-1-prep").urn));
    assert.equal(inputAt(bootstrap.rawInputs, "connection.host").value, "10.10.0.103");
  });

  it("adds hosts independently of each other: each waits only for bootstrap and its own key", () => {
    const adds = rec.resources.filter((r) => r.name.endsWith("-host-add"));
    for (const a of adds) {
      const host = a.name.replace(/^ceph-/, "").replace(/-host-add$/, "");
      const want = [named("ceph-bootstrap").urn, ...(host === "ctl-1" ? [] : [named(`ceph-${host}-authorize`).urn])];
      assert.deepEqual([...a.dependencies].sort(), want.sort(), a.name);
    }
    const specs = named("ceph-specs");
    for (const a of adds) assert.ok(specs.dependencies.includes(a.urn), `specs wait for ${a.name}`);
  });

  it("applies the specs, then configures, then reads the keys", () => {
    assert.ok(named("ceph-apply-specs").dependencies.includes(named("ceph-specs").urn));
    assert.ok(named("ceph-configure").dependencies.includes(named("ceph-apply-specs").urn));
    assert.ok(named("ceph-keys").dependencies.includes(named("ceph-configure").urn));
  });

  it("sends the planned specs and configuration script as stdin, tagged as artifacts", () => {
    const specs = named("ceph-specs");
    assert.equal(specs.rawInputs.stdin, renderSpecs(cephadmSpecs(cephadmInputFor(estate))));
    const script = named("ceph-configure");
    assert.equal(script.rawInputs.stdin, renderCephConfigure(cephPlanFor(estate).configure));
    const kinds = taggedArtifacts().map((t) => `${t.tag.kind} ${t.tag.file}`);
    assert.ok(kinds.includes("cephadm-spec ceph/specs.yaml"));
    assert.ok(kinds.includes("shell ceph/configure.sh"));
  });

  it("deletes nothing: no command has a delete", () => {
    const commands = rec.resources.filter((r) => r.parent === named("ceph").urn && r.type === "command:remote:Command");
    for (const c of commands) assert.equal(c.rawInputs.delete, undefined, c.name);
  });

  it("reads the keys back as a secret output, never logged", async () => {
    const keys = named("ceph-keys");
    assert.equal(keys.rawInputs.logging, "none");
    for (const k of [ceph.keys.csiKey, ceph.keys.s3AccessKey, ceph.keys.s3SecretKey])
      assert.equal((await settled(k)).secret, true);
    const commands = rec.resources.filter((r) => r.type === "command:remote:Command");
    for (const c of commands)
      for (const p of ["create", "update", "delete"])
        assert.ok(!isSecretValue(c.rawInputs[p]), `${c.name}.${p} carries no secret`);
  });

  it("publishes the ceph stack output: monitors, pools with class and sizes, S3 endpoints, CSI client", async () => {
    assert.deepEqual(ceph.output.monitors, ["10.255.0.66", "10.255.0.67", "10.255.0.68"]);
    assert.deepEqual(
      ceph.output.pools.map((p) => `${p.name} ${p.deviceClass} ${p.size}/${p.minSize}`),
      ["kube-hot nvme 3/2", "kube-warm hdd 3/2"],
    );
    assert.equal(ceph.output.csiClient, "client.kubernetes");
    assert.equal(ceph.output.rgwEndpoints.length, 2);
    assert.equal((await settled(ceph.output.fsid)).known, false, "the fsid is chosen at deployment");
  });

  it("protects the data-bearing resources only where the stack says so (prod does, dev does not)", async () => {
    const guarded = ["ceph-fsid", "ceph-bootstrap", "ceph-specs"];
    assert.equal(estate.ceph.protect, true);
    assert.deepEqual(
      rec.resources
        .filter((r) => r.protect)
        .map((r) => r.name)
        .sort(),
      [...guarded].sort(),
    );
    const { rec: dev } = await build(estateOf("dev"));
    assert.deepEqual(
      dev.resources.filter((r) => r.protect).map((r) => r.name),
      [],
    );
  });

  it("keeps the longest chain of remote steps constant when the Ceph hosts double", async () => {
    const base = longestCommandChain(rec.resources);
    const doubled = longestCommandChain((await build(doubledOsdHosts(estate))).rec.resources);
    console.log(`figure ceph.chain.prod ${base} steps`);
    console.log(`figure ceph.chain.prod_doubled_osd_hosts ${doubled} steps`);
    assert.equal(doubled, base);
  });
});
