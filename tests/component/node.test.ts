/**
 * HardwareNode under Pulumi's mocks: every registration recorded, and asserted by type,
 * name, parent, inputs and dependencies.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { HardwareNode, NetworkSwitch } from "../../components/node";
import { baselineInputFor, networkInputFor, preflightInputFor } from "../../components/node/input";
import { renderBaseline, renderNetwork, renderPreflight } from "../../components/node/render";
import { clearArtifactTags, taggedArtifacts } from "../../components/shared/artifacts";
import { connectionFor, remoteScript, sha256 } from "../../components/shared/remote";
import type { Estate } from "../../config/model";
import { inputAt, installMocks, isSecretValue, type Recorder, settle } from "../../tools/harness";
import { estateOf } from "../helpers/config";
import { settled, valueOf } from "../helpers/output";

describe("HardwareNode (mocks)", () => {
  let rec: Recorder;
  let estate: Estate;
  let node: HardwareNode;

  before(async () => {
    clearArtifactTags();
    estate = estateOf("dev");
    rec = installMocks("dev", { values: {}, secretKeys: [] }, true);
    const server = estate.servers[0];
    const { site, node: options, pools, frontend } = estate;
    node = new HardwareNode(server.name, {
      server,
      site,
      node: options,
      pools,
      frontend,
      privateKey: pulumi.secret("PRIVATE-KEY-FOR-TEST"),
    });
    await settle();
  });

  it("registers the component and exactly three commands, parented to it", () => {
    assert.deepEqual(
      rec.resources.map((r) => [r.type, r.name]),
      [
        ["estate:node:HardwareNode", "srv-1"],
        ["command:remote:Command", "srv-1-preflight"],
        ["command:remote:Command", "srv-1-network"],
        ["command:remote:Command", "srv-1-baseline"],
      ],
    );
    const component = rec.resources[0];
    assert.equal(component.urn, "urn:pulumi:dev::estate::estate:node:HardwareNode::srv-1");
    for (const child of rec.resources.slice(1)) assert.equal(child.parent, component.urn);
  });

  it("sends the rendered scripts as stdin, with a fixed command and a hash trigger", () => {
    const [, preflight, network, baseline] = rec.resources;
    const server = estate.servers[0];
    const pre = renderPreflight(preflightInputFor(server, estate));
    const net = renderNetwork(networkInputFor(server, estate));
    const base = renderBaseline(baselineInputFor(server, estate));
    assert.equal(preflight.rawInputs.stdin, pre);
    assert.equal(network.rawInputs.stdin, net);
    assert.equal(baseline.rawInputs.stdin, base);
    assert.equal(preflight.rawInputs.create, "sudo -n bash -s");
    assert.equal(preflight.rawInputs.update, "sudo -n bash -s", "a changed script reruns");
    assert.deepEqual(preflight.rawInputs.triggers, [sha256(pre)], "read-only: a replace only reruns it");
    // The baseline has a delete, so it must never be replaced (the old delete would run
    // after the new create): no triggers; the hash rides on the command line, an update.
    const run = `sudo -n bash -s # estate sha256 ${sha256(base).slice(0, 16)}`;
    assert.equal(baseline.rawInputs.create, run);
    assert.equal(baseline.rawInputs.update, run);
    assert.equal(baseline.rawInputs.triggers, undefined);
    assert.equal(network.rawInputs.create, `sudo -n bash -s # estate sha256 ${sha256(net).slice(0, 16)}`);
    assert.equal(network.rawInputs.triggers, undefined);
    assert.equal(
      network.rawInputs.delete,
      "sudo -n sh -c 'rm -f /etc/systemd/network/10-estate-*.network /etc/systemd/networkd.conf.d/estate.conf && networkctl reload'",
    );
    assert.equal(preflight.rawInputs.delete, undefined, "preflight is read-only: nothing to tear down");
    assert.equal(
      baseline.rawInputs.delete,
      "sudo -n rm -f /etc/sysctl.d/90-estate.conf /etc/modules-load.d/estate.conf",
    );
  });

  it("connects with the pinned host key and the secret private key, never inside a command", () => {
    for (const r of rec.resources.slice(1)) {
      assert.ok(isSecretValue(r.rawInputs.connection), "connection carries a secret, so it is secret as a whole");
      assert.equal(inputAt(r.rawInputs, "connection.hostKey").value, estate.servers[0].ssh.hostKey);
      assert.equal(inputAt(r.rawInputs, "connection.host").value, "10.110.0.101");
      assert.equal(inputAt(r.rawInputs, "connection.user").value, "estate");
      assert.equal(inputAt(r.rawInputs, "connection.port").value, 22);
      assert.equal(inputAt(r.rawInputs, "connection.privateKey").value, "PRIVATE-KEY-FOR-TEST");
      for (const k of ["create", "update", "delete", "stdin"])
        assert.ok(!String(r.rawInputs[k] ?? "").includes("PRIVATE-KEY-FOR-TEST"), `${k} holds no secret`);
    }
  });

  it("runs preflight, then the network, then the baseline", () => {
    const [, preflight, network, baseline] = rec.resources;
    assert.deepEqual(preflight.dependencies, []);
    assert.deepEqual(network.dependencies, [preflight.urn]);
    assert.deepEqual(baseline.dependencies, [network.urn]);
  });

  it("tags the scripts as shell artifacts of its host", async () => {
    const tags = taggedArtifacts().map((t) => t.tag);
    assert.deepEqual(
      tags.map((t) => [t.kind, t.target, t.property, t.file]),
      [
        ["shell", "srv-1", "stdin", "nodes/srv-1/preflight.sh"],
        ["shell", "srv-1", "stdin", "nodes/srv-1/network.sh"],
        ["shell", "srv-1", "delete", "nodes/srv-1/network.delete.sh"],
        ["shell", "srv-1", "stdin", "nodes/srv-1/baseline.sh"],
        ["shell", "srv-1", "delete", "nodes/srv-1/baseline.delete.sh"],
      ],
    );
  });

  it("exposes its model entry and its SSH connection: plain except the private key, which is secret", async () => {
    assert.equal(node.server, estate.servers[0]);
    const { privateKey, ...plain } = node.connection;
    assert.deepEqual(plain, {
      host: "10.110.0.101",
      port: 22,
      user: "estate",
      hostKey: estate.servers[0].ssh.hostKey,
      dialErrorLimit: 5,
      perDialTimeout: 15,
    });
    assert.deepEqual(await settled(privateKey), { value: "PRIVATE-KEY-FOR-TEST", known: true, secret: true });
  });

  it("publishes its stack-output entry under `output`; `ready` and `facts` are unknown until the scripts ran", async () => {
    const { ready, facts, ...plain } = node.output;
    assert.deepEqual(plain, {
      name: "srv-1",
      mgmtAddress: "10.110.0.101",
      ssh: {
        host: "10.110.0.101",
        port: 22,
        user: "estate",
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOx1S1hDnmMlsnO0NJPVuckHSaORlCIxJY5NX+tcItoJ",
      },
      loopback: "10.111.0.64",
      rack: "r1",
      roles: ["k8s-server", "ceph-mon", "ceph-mgr", "ceph-osd", "ceph-rgw", "lb"],
    });
    assert.equal(ready, node.ready);
    assert.deepEqual(await settled(ready), { value: undefined, known: false, secret: false }, "a preview");
    assert.equal(facts, node.facts);
    assert.deepEqual(await settled(facts), { value: undefined, known: false, secret: false }, "a preview");
  });
});

describe("NetworkSwitch (mocks)", () => {
  it("registers one component without children and exposes the switch and its SSH connection", async () => {
    const estate = estateOf("dev");
    const rec = installMocks("dev", { values: {}, secretKeys: [] }, true);
    const spine = estate.switches[0];
    const sw = new NetworkSwitch(spine.name, { switch: spine, privateKey: "PLAIN-KEY-FOR-TEST" });
    await settle();
    assert.deepEqual(
      rec.resources.map((r) => [r.type, r.name, r.parent]),
      [["estate:node:NetworkSwitch", "spine-1", ""]],
    );
    assert.equal(sw.switch, spine);
    assert.equal(sw.connection.host, spine.mgmtAddress);
    assert.equal(sw.connection.hostKey, spine.ssh.hostKey);
    const key = await settled(sw.connection.privateKey);
    assert.deepEqual(key, { value: "PLAIN-KEY-FOR-TEST", known: true, secret: true }, "a plain key becomes secret");
    assert.equal(await valueOf(sw.connection.privateKey), "PLAIN-KEY-FOR-TEST");
  });
});

describe("remote commands: delete and triggers", () => {
  it("refuses extra triggers on a command with a delete", () => {
    installMocks("dev", { values: {}, secretKeys: [] }, true);
    const connection = connectionFor({ host: "10.0.0.1", port: 22, user: "estate", hostKey: "ssh-ed25519 AAAA" }, "k");
    assert.throws(
      () =>
        remoteScript(
          "bad",
          {
            connection,
            user: "estate",
            script: "#!/usr/bin/env bash\nset -euo pipefail\ntrue\n",
            deleteCommand: "true",
            triggers: ["x"],
            target: "h",
            file: "h/bad.sh",
          },
          {},
        ),
      /^Error: bad: a command with a delete cannot take triggers \(a trigger change replaces it, and the old delete would run after the new create\)$/,
    );
  });
});
