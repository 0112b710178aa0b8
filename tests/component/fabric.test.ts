/**
 * SpineLeafFabric under Pulumi's mocks: every registration recorded, asserted by type,
 * name, parent, inputs and dependencies; artifacts tagged as the offline plan reads them.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { SpineLeafFabric } from "../../components/fabric";
import { planFabric } from "../../components/fabric/plan";
import { frrInputFor } from "../../components/fabric/input";
import { FRR_CHECK, FRR_RELOAD, renderFrrConf, renderFrrDaemons } from "../../components/fabric/render";
import { NetworkSwitch } from "../../components/node";
import { clearArtifactTags, taggedArtifacts } from "../../components/shared/artifacts";
import { asRoot, renderInstallFile, sha256 } from "../../components/shared/remote";
import { shq } from "../../components/shared/shell";
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
import { valueOf } from "../helpers/output";

describe("SpineLeafFabric (mocks)", () => {
  let rec: Recorder;
  let estate: Estate;
  let fabric: SpineLeafFabric;
  let component: RecordedResource;
  const named = (n: string) => {
    const r = rec.resources.find((x) => x.name === n);
    assert.ok(r, `${n} is registered`);
    return r;
  };

  before(async () => {
    clearArtifactTags();
    estate = estateOf("dev");
    rec = installMocks("dev", { values: {}, secretKeys: [] }, true);
    const privateKey = pulumi.secret("PRIVATE-KEY-FOR-TEST");
    const nodes = {
      ...hardwareNodes(estate, estate.servers, privateKey),
      ...Object.fromEntries(estate.switches.map((s) => [s.name, new NetworkSwitch(s.name, { switch: s, privateKey })])),
    };
    const { switches, servers, pools } = estate;
    fabric = new SpineLeafFabric("fabric", { switches, servers, pools, fabric: estate.fabric, nodes });
    await settle();
    component = named("fabric");
  });

  it("registers the component and three commands per switch and server, named from stable names, parented to it", () => {
    assert.equal(component.type, "estate:fabric:SpineLeafFabric");
    assert.equal(component.urn, "urn:pulumi:dev::estate::estate:fabric:SpineLeafFabric::fabric");
    const children = rec.resources.filter((r) => r.parent === component.urn);
    const hosts = ["spine-1", "leaf-1a", "leaf-1b", "srv-1", "srv-2", "srv-3"];
    assert.deepEqual(
      children.map((c) => `${c.type} ${c.name}`).sort(),
      hosts
        .flatMap((h) => [
          `command:remote:Command fabric-${h}-frr-daemons`,
          `command:remote:Command fabric-${h}-frr-conf`,
          `command:remote:Command fabric-${h}-exporters`,
        ])
        .sort(),
    );
  });

  it("delivers each node's rendered frr.conf as stdin, checked with vtysh -C and reloaded on change", () => {
    const plan = planFabric(estate);
    const install = asRoot(
      "estate",
      `bash -c ${shq(renderInstallFile({ path: "/etc/frr/frr.conf", mode: "0640", owner: "frr:frr", check: FRR_CHECK, onChange: FRR_RELOAD }))}`,
    );
    for (const h of [...estate.switches, ...estate.servers]) {
      const r = named(`fabric-${h.name}-frr-conf`);
      const text = renderFrrConf(frrInputFor(plan, estate, h.name));
      assert.equal(r.rawInputs.stdin, text);
      assert.deepEqual(r.rawInputs.triggers, [sha256(text)]);
      assert.equal(r.rawInputs.create, install);
      assert.equal(r.rawInputs.update, install, "a changed config reruns in place");
      const d = named(`fabric-${h.name}-frr-daemons`);
      const script = renderFrrDaemons({ name: h.name, forwarding: h.kind === "switch" });
      assert.equal(d.rawInputs.stdin, script);
      assert.equal(d.rawInputs.create, "sudo -n bash -s");
    }
  });

  it("connects to each host through its node's connection: pinned key, secret private key, never inside a command", () => {
    for (const h of [...estate.switches, ...estate.servers])
      for (const step of ["frr-daemons", "frr-conf"]) {
        const r = named(`fabric-${h.name}-${step}`);
        assert.ok(isSecretValue(r.rawInputs.connection));
        assert.equal(inputAt(r.rawInputs, "connection.host").value, h.mgmtAddress);
        assert.equal(inputAt(r.rawInputs, "connection.hostKey").value, h.ssh.hostKey);
        assert.equal(inputAt(r.rawInputs, "connection.privateKey").value, "PRIVATE-KEY-FOR-TEST");
        for (const k of ["create", "update", "stdin"])
          assert.ok(!String(r.rawInputs[k] ?? "").includes("PRIVATE-KEY-FOR-TEST"), `${r.name} ${k}`);
      }
  });

  it("takes nodes, not the private key, and names the host a missing node would reach", () => {
    const { switches, servers, pools } = estate;
    const args = { switches, servers, pools, fabric: estate.fabric, nodes: {} };
    // @ts-expect-error the fabric gets no private key: it reaches hosts through their nodes
    void (() => new SpineLeafFabric("typed", { ...args, privateKey: "k" }));
    assert.throws(
      () => new SpineLeafFabric("broken", args),
      /^Error: SpineLeafFabric broken: no NetworkSwitch given for switch spine-1$/,
    );
  });

  it("orders: a server's FRR waits for its HardwareNode; the config waits for the daemons", () => {
    for (const s of estate.servers) {
      const d = named(`fabric-${s.name}-frr-daemons`);
      // dependsOn the component: the engine waits for its children, preflight, network and baseline.
      const node = "urn:pulumi:dev::estate::estate:node:HardwareNode$command:remote:Command";
      assert.deepEqual(d.dependencies, [
        `${node}::${s.name}-baseline`,
        `${node}::${s.name}-network`,
        `${node}::${s.name}-preflight`,
      ]);
    }
    // Rolling: the first switch of each group starts at once; leaf-1b waits for leaf-1a (rack r1).
    assert.deepEqual(named("fabric-spine-1-frr-daemons").dependencies, []);
    assert.deepEqual(named("fabric-leaf-1a-frr-daemons").dependencies, []);
    assert.deepEqual(named("fabric-leaf-1b-frr-daemons").dependencies, [named("fabric-leaf-1a-frr-conf").urn]);
    for (const h of [...estate.switches, ...estate.servers]) {
      assert.deepEqual(named(`fabric-${h.name}-frr-conf`).dependencies, [named(`fabric-${h.name}-frr-daemons`).urn]);
      // The exporters need FRR's sockets (the BFD and BGP collectors are checked up).
      assert.deepEqual(named(`fabric-${h.name}-exporters`).dependencies, [named(`fabric-${h.name}-frr-conf`).urn]);
    }
  });

  it("tags every frr.conf as an frr artifact of its node, and the scripts as shell", () => {
    const tags = taggedArtifacts()
      .map((t) => t.tag)
      .filter((t) => t.file.startsWith("fabric/"));
    const frr = tags.filter((t) => t.kind === "frr").map((t) => [t.target, t.property, t.file]);
    assert.deepEqual(
      frr,
      ["spine-1", "leaf-1a", "leaf-1b", "srv-1", "srv-2", "srv-3"].map((h) => [h, "stdin", `fabric/${h}/frr.conf`]),
    );
    // frr-daemons and exporters per node (6 nodes in dev).
    assert.equal(tags.filter((t) => t.kind === "shell").length, 18);
  });

  it("publishes the stack output under `output`", async () => {
    const out = await valueOf(fabric.output);
    assert.deepEqual(Object.keys(out).sort(), ["links", "numbered", "oversubscription", "servers", "switches"]);
    assert.equal(out.numbered, false);
    assert.deepEqual(out.switches.slice(0, 2), [
      { name: "spine-1", role: "spine", asn: 65000, loopback: "10.111.0.1" },
      { name: "leaf-1a", role: "leaf", rack: "r1", asn: 65100, loopback: "10.111.0.2" },
    ]);
    assert.deepEqual(out.links[2], {
      a: { node: "srv-1", iface: "ens1f0" },
      b: { node: "leaf-1a", iface: "swp1" },
      speedGbps: 25,
    });
    assert.deepEqual(out.oversubscription, [
      { leaf: "leaf-1a", ratio: 0.75 },
      { leaf: "leaf-1b", ratio: 0.75 },
    ]);
  });
});

describe("SpineLeafFabric.create (per-node children in batches)", () => {
  /** The fabric's children of dev, as registered by `build`; and what each `pace` saw registered. */
  async function children(
    build: (args: ConstructorParameters<typeof SpineLeafFabric>[1], rec: Recorder) => Promise<unknown>,
  ): Promise<string[]> {
    clearArtifactTags();
    const estate = estateOf("dev");
    const rec = installMocks("dev", { values: {}, secretKeys: [] }, true);
    const privateKey = pulumi.secret("PRIVATE-KEY-FOR-TEST");
    const nodes = {
      ...hardwareNodes(estate, estate.servers, privateKey),
      ...Object.fromEntries(estate.switches.map((s) => [s.name, new NetworkSwitch(s.name, { switch: s, privateKey })])),
    };
    const { switches, servers, pools } = estate;
    await build({ switches, servers, pools, fabric: estate.fabric, nodes }, rec);
    await settle();
    return rec.resources
      .filter((r) => r.urn.includes("SpineLeafFabric"))
      .map((r) => JSON.stringify([r.urn, r.parent, r.dependencies, r.rawInputs]))
      .sort();
  }

  it("registers exactly what `new` registers, `batch` nodes per `pace`, each batch registered before the next starts", async () => {
    const whole = await children(async (args) => new SpineLeafFabric("fabric", args));
    const seen: number[] = [];
    const paced = await children(async (args, rec) => {
      const fabricChildren = () => rec.resources.filter((r) => r.parent.endsWith("::fabric")).length;
      await SpineLeafFabric.create(
        "fabric",
        args,
        async () => {
          await settle();
          seen.push(fabricChildren());
        },
        2,
      );
    });
    assert.equal(whole.length, 1 + 6 * 3);
    assert.deepEqual(paced, whole);
    // 6 nodes (3 switches, 3 servers) in batches of 2: three commands each.
    assert.deepEqual(seen, [6, 12, 18]);
  });
});
