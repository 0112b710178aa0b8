/**
 * HardwareNode under Pulumi's mocks: every registration recorded, and asserted by type,
 * name, parent, inputs and dependencies.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { HardwareNode } from "../../components/node";
import { baselineInputFor, networkInputFor, preflightInputFor } from "../../components/node/input";
import {
  renderBaseline,
  renderNetwork,
  renderPreflight,
} from "../../components/node/render";
import { clearArtifactTags, taggedArtifacts } from "../../components/shared/artifacts";
import { remoteScript, sha256 } from "../../components/shared/remote";
import type { Estate } from "../../config/model";
import { inputAt, installMocks, isSecretValue, type Recorder, settle } from "../../tools/harness";
import { estateOf } from "../helpers/config";

describe("HardwareNode (mocks)", () => {
  let rec: Recorder;
  let estate: Estate;
  let node: HardwareNode;

  before(async () => {
    clearArtifactTags();
    estate = estateOf("dev");
    rec = installMocks("dev", { values: {}, secretKeys: [] }, true);
    const server = estate.servers[0];
    node = new HardwareNode(server.name, {
      server,
      estate,
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

  it("exposes its host name and address", async () => {
    const value = <T>(o: pulumi.Output<T>) => new Promise<T>((r) => o.apply(r));
    assert.equal(await value(node.hostname), "srv-1");
    assert.equal(await value(node.address), "10.110.0.101");
  });
});

describe("remote commands: delete and triggers", () => {
  it("refuses extra triggers on a command with a delete", () => {
    installMocks("dev", { values: {}, secretKeys: [] }, true);
    const connection = { host: "10.0.0.1", user: "estate", privateKey: pulumi.secret("k") };
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
