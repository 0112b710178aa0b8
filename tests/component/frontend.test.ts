/**
 * Frontend under Pulumi's mocks: every registration recorded and asserted by type, name,
 * parent, inputs, dependencies and secret handling.
 */
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { Frontend } from "../../components/frontend";
import { frontTierInputFor } from "../../components/frontend/input";
import {
  FRONTEND_PATHS,
  renderKeepalivedApply,
  renderKeepalivedConf,
  renderKeepalivedDropIn,
  renderNginxApply,
  renderNginxCheck,
  renderNginxConf,
  renderSetup,
  renderVrrpFilter,
} from "../../components/frontend/render";
import { clearArtifactTags, taggedArtifacts } from "../../components/shared/artifacts";
import { sha256 } from "../../components/shared/remote";
import type { Estate } from "../../config/model";
import { inputAt, installMocks, isSecretValue, type Recorder, settle } from "../../tools/harness";
import { estateOf } from "../helpers/config";
import { hardwareNodes } from "../helpers/nodes";
import { valueOf } from "../helpers/output";

const CERT = "CERT-FOR-TEST";
const KEY = "KEY-FOR-TEST";
const SSH = "SSH-KEY-FOR-TEST";

describe("Frontend (mocks)", () => {
  let rec: Recorder;
  let estate: Estate;
  let tier: Frontend;
  const secretOutputs = new Map<string, string[]>();
  const aliasSpecs = new Map<string, { type: string; name: string }[]>();

  before(async () => {
    clearArtifactTags();
    estate = estateOf("prod");
    rec = installMocks("prod", { values: {}, secretKeys: [] }, true);
    // Also record additionalSecretOutputs, which the recorder does not keep.
    const monitor = pulumi.runtime.getMonitor() as unknown as {
      registerResource(
        req: {
          getName(): string;
          getAdditionalsecretoutputsList(): string[];
          getAliasesList(): {
            toObject(): { spec?: { type: string; name: string; parenturn: string; noparent: boolean } };
          }[];
        },
        cb: unknown,
      ): unknown;
    };
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
      secretOutputs.set(req.getName(), req.getAdditionalsecretoutputsList());
      aliasSpecs.set(
        req.getName(),
        req.getAliasesList().map((a) => ({ type: a.toObject().spec!.type, name: a.toObject().spec!.name })),
      );
      return register(req, cb);
    };
    const balancers = estate.servers.filter((s) => s.roles.includes("lb"));
    const nodes = hardwareNodes(estate, balancers, pulumi.secret(SSH));
    tier = new Frontend("frontend", {
      ...estate,
      tlsCertificate: pulumi.secret(CERT),
      tlsKey: pulumi.secret(KEY),
      nodes,
    });
    await settle();
  });

  const mine = () => rec.resources.filter((r) => r.name === "frontend" || r.name.startsWith("frontend-"));
  const byName = (n: string) => {
    const r = rec.resources.find((x) => x.name === n);
    if (!r) throw new Error(`${n} was not registered`);
    return r;
  };

  it("registers the component and twelve commands per balancer, named by host, parented to it", () => {
    const steps = [
      "setup",
      "tls-cert",
      "tls-key",
      "nginx",
      "nginx-apply",
      "vrrp-filter",
      "keepalived-unit",
      "nginx-check",
      "keepalived",
      "keepalived-apply",
      "vrrp-notify",
      "nginx-exporter",
    ];
    assert.deepEqual(
      mine()
        .map((r) => `${r.type} ${r.name}`)
        .sort(),
      [
        "estate:frontend:Frontend frontend",
        ...["lb-1", "lb-2"].flatMap((b) => steps.map((s) => `command:remote:Command frontend-${b}-${s}`)),
      ].sort(),
    );
    const component = byName("frontend");
    assert.equal(component.urn, "urn:pulumi:prod::estate::estate:frontend:Frontend::frontend");
    for (const child of mine().slice(1)) assert.equal(child.parent, component.urn);
  });

  it("delivers the rendered configs as stdin with the right paths, modes and checks", () => {
    const input = frontTierInputFor(estate);
    for (const b of ["lb-1", "lb-2"]) {
      const nginx = byName(`frontend-${b}-nginx`);
      assert.equal(nginx.rawInputs.stdin, renderNginxConf(input, b));
      assert.deepEqual(nginx.rawInputs.triggers, [sha256(renderNginxConf(input, b))]);
      const create = String(nginx.rawInputs.create);
      assert.match(create, /^sudo -n bash -c /);
      assert.ok(create.includes(`chmod 0644 "$new"`));
      assert.ok(create.includes(`nginx -t -q -c "$new"`), "checked before it replaces the live file");
      assert.ok(create.includes(FRONTEND_PATHS.nginxConf));
      assert.ok(!create.includes("reload"), "files are written first, applied once by the apply step");
      assert.equal(nginx.rawInputs.update, nginx.rawInputs.create, "a change reruns in place");

      const ka = byName(`frontend-${b}-keepalived`);
      assert.equal(ka.rawInputs.stdin, renderKeepalivedConf(input, b));
      assert.ok(String(ka.rawInputs.create).includes(`keepalived -t -f "$new"`));
      assert.ok(!String(ka.rawInputs.create).includes("reload"));

      // Apply steps: check everything together, reload gracefully; rerun when any input changed.
      const nginxApply = byName(`frontend-${b}-nginx-apply`);
      assert.equal(nginxApply.rawInputs.stdin, renderNginxApply(b));
      assert.match(renderNginxApply(b), /^nginx -t -q -c \/etc\/nginx\/nginx\.conf$/m);
      assert.match(renderNginxApply(b), /systemctl reload nginx/);
      const nginxTriggers = inputAt(nginxApply.rawInputs, "triggers").value as unknown[];
      assert.deepEqual(nginxTriggers, [
        sha256(renderNginxApply(b)),
        sha256(renderNginxConf(input, b)),
        sha256(CERT),
        sha256(KEY),
      ]);
      const kaApply = byName(`frontend-${b}-keepalived-apply`);
      assert.equal(kaApply.rawInputs.stdin, renderKeepalivedApply(b));
      assert.match(renderKeepalivedApply(b), /systemctl reload keepalived/);
      assert.deepEqual(kaApply.rawInputs.triggers, [
        sha256(renderKeepalivedApply(b)),
        sha256(renderKeepalivedConf(input, b)),
      ]);
      assert.ok(isSecretValue(nginxApply.rawInputs.triggers), "secret hashes stay secret");

      // The VRRP filter: checked by nft before it replaces the live file, loaded when it changed.
      const filter = byName(`frontend-${b}-vrrp-filter`);
      assert.equal(filter.rawInputs.stdin, renderVrrpFilter(input, b));
      const filterCreate = String(filter.rawInputs.create);
      assert.ok(filterCreate.includes(`nft -c -f "$new"`));
      assert.ok(filterCreate.includes(`nft -f ${FRONTEND_PATHS.vrrpFilter}`));
      assert.ok(filterCreate.includes(FRONTEND_PATHS.vrrpFilter));
      // keepalived's drop-in: systemd rereads its units when it changed.
      const unit = byName(`frontend-${b}-keepalived-unit`);
      assert.equal(unit.rawInputs.stdin, renderKeepalivedDropIn(input, b));
      assert.ok(String(unit.rawInputs.create).includes("systemctl daemon-reload"));
      assert.ok(String(unit.rawInputs.create).includes(FRONTEND_PATHS.keepalivedDropIn));
      // The Nginx check keepalived runs: executable, syntax-checked.
      const check = byName(`frontend-${b}-nginx-check`);
      assert.equal(check.rawInputs.stdin, renderNginxCheck());
      assert.ok(String(check.rawInputs.create).includes(`chmod 0755 "$new"`));
      assert.ok(String(check.rawInputs.create).includes(`sh -n "$new"`));
      // Teardown sits on the setup step, which is never replaced: no triggers, no delete on apply steps.
      const setup = byName(`frontend-${b}-setup`);
      assert.equal(
        setup.rawInputs.delete,
        "sudo -n systemctl disable --now keepalived && sudo -n systemctl disable --now nginx",
      );
      assert.equal(setup.rawInputs.triggers, undefined);
      assert.equal(setup.rawInputs.create, `sudo -n bash -s # estate sha256 ${sha256(renderSetup(b)).slice(0, 16)}`);
      for (const r of [nginxApply, kaApply]) assert.equal(r.rawInputs.delete, undefined);

      assert.equal(byName(`frontend-${b}-setup`).rawInputs.stdin, renderSetup(b));
      for (const [step, path] of [
        ["tls-cert", FRONTEND_PATHS.tlsCertificate],
        ["tls-key", FRONTEND_PATHS.tlsKey],
      ]) {
        const create = String(byName(`frontend-${b}-${step}`).rawInputs.create);
        assert.ok(create.includes(`chmod 0600 "$new"`), `${step} is 0600`);
        assert.ok(create.includes(path), `${step} goes to ${path}`);
      }
    }
  });

  it("keeps the TLS pair secret: stdin only, no logging, secret outputs", () => {
    const secrets = [CERT, KEY, SSH];
    for (const b of ["lb-1", "lb-2"]) {
      for (const [step, value] of [
        ["tls-cert", CERT],
        ["tls-key", KEY],
      ]) {
        const r = byName(`frontend-${b}-${step}`);
        assert.ok(isSecretValue(r.rawInputs.stdin), `${step} stdin is secret`);
        assert.ok(String(inputAt(r.rawInputs, "stdin").value).includes(value));
        assert.equal(r.rawInputs.logging, "none", `${step} is not logged`);
        for (const o of ["stdout", "stderr"])
          assert.ok(secretOutputs.get(r.name)?.includes(o), `${step} ${o} is a secret output`);
        assert.ok(
          isSecretValue(r.rawInputs.triggers) || isSecretValue((r.rawInputs.triggers as unknown[])[0]),
          `${step} hash is secret`,
        );
      }
      for (const step of ["nginx", "keepalived", "setup", "vrrp-filter", "keepalived-unit", "nginx-check"]) {
        const r = byName(`frontend-${b}-${step}`);
        assert.equal(typeof r.rawInputs.stdin, "string", `${step} is a reviewable, non-secret artifact`);
      }
    }
    for (const r of mine().slice(1)) {
      assert.ok(isSecretValue(r.rawInputs.connection));
      for (const k of ["create", "update", "delete"])
        for (const s of secrets) assert.ok(!String(r.rawInputs[k] ?? "").includes(s), `${r.name}.${k} holds no secret`);
    }
  });

  it("waits for the balancer's node, then orders cert, key, nginx.conf; check, keepalived.conf; filter and unit before keepalived runs", () => {
    for (const b of ["lb-1", "lb-2"]) {
      const urn = (s: string) => byName(`frontend-${b}-${s}`).urn;
      // dependsOn a component waits for its children: the node's preflight and baseline.
      assert.ok(byName(`frontend-${b}-setup`).dependencies.some((d) => d.endsWith(`::${b}-baseline`)));
      assert.deepEqual(byName(`frontend-${b}-tls-cert`).dependencies, [urn("setup")]);
      assert.deepEqual(byName(`frontend-${b}-tls-key`).dependencies, [urn("tls-cert")]);
      assert.deepEqual(byName(`frontend-${b}-nginx`).dependencies, [urn("tls-key")]);
      assert.deepEqual(byName(`frontend-${b}-nginx-apply`).dependencies, [urn("nginx")]);
      for (const s of ["vrrp-filter", "keepalived-unit", "nginx-check", "vrrp-notify"])
        assert.deepEqual(byName(`frontend-${b}-${s}`).dependencies, [urn("setup")], s);
      // `keepalived -t` needs the check and notify scripts the config names.
      assert.deepEqual(
        [...byName(`frontend-${b}-keepalived`).dependencies].sort(),
        [urn("nginx-check"), urn("vrrp-notify")].sort(),
      );
      // The exporter reads stub_status: after the Nginx with it is running.
      assert.deepEqual(byName(`frontend-${b}-nginx-exporter`).dependencies, [urn("nginx-apply")]);
      // keepalived runs only with the filter loaded and the restart settings known; lb-2
      // (priority 140) reloads after lb-1 (150): one balancer at a time.
      assert.deepEqual(
        byName(`frontend-${b}-keepalived-apply`).dependencies,
        [
          urn("keepalived"),
          urn("nginx-apply"),
          urn("vrrp-filter"),
          urn("keepalived-unit"),
          // keepalived calls the notify script on every transition, and at start.
          urn("vrrp-notify"),
          ...(b === "lb-2" ? [byName("frontend-lb-1-keepalived-apply").urn] : []),
        ].sort(),
      );
    }
  });

  it("connects to each balancer through its node's connection (pinned host key), given no private key itself", () => {
    for (const b of ["lb-1", "lb-2"]) {
      const server = estate.servers.find((s) => s.name === b)!;
      const r = byName(`frontend-${b}-nginx`);
      assert.equal(inputAt(r.rawInputs, "connection.host").value, server.mgmtAddress);
      assert.equal(inputAt(r.rawInputs, "connection.hostKey").value, server.ssh.hostKey);
      assert.equal(inputAt(r.rawInputs, "connection.privateKey").value, SSH);
    }
    // @ts-expect-error the front tier gets no private key: it reaches balancers through their nodes
    void (() => new Frontend("typed", { ...estate, tlsCertificate: CERT, tlsKey: KEY, nodes: {}, privateKey: SSH }));
  });

  it("tags nginx, keepalived, nftables and systemd artifacts per balancer", () => {
    const tags = taggedArtifacts()
      .map((t) => t.tag)
      .filter((t) => t.file.startsWith("frontend/lb-1/") && t.kind !== "shell");
    assert.deepEqual(
      tags.map((t) => [t.kind, t.file]),
      [
        ["nginx", "frontend/lb-1/tls.crt"],
        ["nginx", "frontend/lb-1/tls.key"],
        ["nginx", "frontend/lb-1/nginx.conf"],
        ["nftables", "frontend/lb-1/vrrp-filter.nft"],
        ["systemd", "frontend/lb-1/keepalived.service.d/estate.conf"],
        ["keepalived", "frontend/lb-1/keepalived.conf"],
      ],
    );
  });

  it("keeps existing stacks' resources: an alias from the old type estate:frontend:FrontTier", () => {
    // The SDK sends alias specs; the engine derives the children's aliases from the parent's.
    assert.deepEqual(
      aliasSpecs.get("frontend"),
      [{ type: "estate:frontend:FrontTier", name: "" }],
      "same name, old type",
    );
    assert.deepEqual(aliasSpecs.get("frontend-lb-1-setup"), [], "children need none of their own");
  });

  it("publishes the stack output under `output`", async () => {
    const value = await valueOf(tier.output);
    assert.deepEqual(value, {
      vip: "10.20.0.10",
      balancers: [
        { name: "lb-1", address: "10.20.0.11", priority: 150 },
        { name: "lb-2", address: "10.20.0.12", priority: 140 },
      ],
      ports: { https: 443, http: 80 },
    });
  });
});
