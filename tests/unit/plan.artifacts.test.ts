/**
 * Structured artifacts: a tiny real program under the plan's mocks registers a Helm
 * Release with object `values` (a secret and an unknown inside), a Kubernetes object
 * tagged whole (`property: "."`) and a command that sends a YAML spec as stdin. The plan
 * writes each as YAML with sorted keys, marks secret and unknown parts in place, and says
 * the format in INDEX.json.
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { toYaml } from "../../components/shared/artifacts";
import { captureArtifact, type ArtifactEntry, plan } from "../../tools/plan";
import { sanitize } from "../../tools/harness";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "estate-plan-artifacts-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SPEC = { service_type: "osd", service_id: "nvme", spec: { data_devices: { paths: ["/dev/b", "/dev/a"] } } };

/** The program, as a module the plan loads like index.ts (modules resolved from this project). */
function program(): string {
  const mod = (m: string): string => JSON.stringify(require.resolve(m));
  const file = path.join(tmp, "program.js");
  fs.writeFileSync(
    file,
    `
const pulumi = require(${mod("@pulumi/pulumi")});
const k8s = require(${mod("@pulumi/kubernetes")});
const command = require(${mod("@pulumi/command")});
const { tagArtifact, toYaml } = require(${mod("../../components/shared/artifacts")});

const spec = new command.remote.Command("ceph-osd-spec", {
  connection: { host: "10.0.0.1", user: "estate" },
  create: "sudo -n cephadm shell -- ceph orch apply -i -",
  stdin: toYaml(${JSON.stringify(SPEC)}),
});
tagArtifact(spec, { kind: "cephadm-spec", target: "ceph", property: "stdin", file: "ceph/osd.spec.yaml", format: "yaml" });

const release = new k8s.helm.v3.Release("istiod", {
  chart: "istiod",
  version: "1.28.0",
  namespace: "istio-system",
  values: {
    pilot: { replicaCount: 2, autoscaleEnabled: false },
    global: { proxy: { resources: { requests: { memory: "256Mi", cpu: "500m" } } } },
  },
});
tagArtifact(release, { kind: "helm-values", target: "istiod", property: "values", file: "mesh/istiod.values.yaml", format: "yaml" });

// Deserialized, a secret anywhere in the values makes all of them secret; on the wire it is in place.
const grafana = new k8s.helm.v3.Release("grafana", {
  chart: "grafana",
  values: { adminUser: "admin", adminPassword: pulumi.secret("s3cr3t") },
});
tagArtifact(grafana, { kind: "helm-values", target: "grafana", property: "values", file: "monitoring/grafana.values.yaml", format: "yaml" });

// A plain resource keeps a secret and an unknown at their place.
const apply = new command.remote.Command("ceph-apply", {
  connection: { host: "10.0.0.1", user: "estate" },
  create: "sudo -n true",
  environment: { TOKEN: pulumi.secret("s3cr3t"), MODE: "apply", FSID: spec.stdout },
});
tagArtifact(apply, { kind: "data", target: "ceph", property: "environment", file: "ceph/apply.env.yaml", format: "yaml" });

const cm = new k8s.core.v1.ConfigMap("mesh-settings", {
  metadata: { name: "mesh-settings", namespace: "istio-system", labels: { tier: "mesh", app: "istiod" } },
  data: { z: "last", a: "first" },
});
tagArtifact(cm, { kind: "k8s-object", target: "istio-system", property: ".", file: "mesh/settings.configmap.yaml", format: "yaml" });
tagArtifact(cm, { kind: "k8s-object", target: "istio-system", property: "metadata.labels", file: "mesh/labels.yaml", format: "yaml" });
`,
  );
  return file;
}

describe("offline plan: structured artifacts", function () {
  this.timeout(60000);
  let dir: string;
  let index: ArtifactEntry[];
  const entry = (p: string): ArtifactEntry => index.find((e) => e.path === p)!;
  const read = (p: string): string => fs.readFileSync(path.join(dir, "artifacts", p), "utf8");

  before(async () => {
    dir = path.join(tmp, "plan");
    await plan({ stack: "dev", out: dir, entry: program() });
    index = JSON.parse(read("INDEX.json")) as ArtifactEntry[];
  });

  it("writes an object input as YAML with sorted keys, with its sha256", () => {
    const text = read("mesh/istiod.values.yaml");
    assert.equal(
      text,
      [
        "global:",
        "  proxy:",
        "    resources:",
        "      requests:",
        "        cpu: 500m",
        "        memory: 256Mi",
        "pilot:",
        "  autoscaleEnabled: false",
        "  replicaCount: 2",
        "",
      ].join("\n"),
    );
    const e = entry("mesh/istiod.values.yaml");
    assert.deepEqual(
      { format: e.format, kind: e.kind, secret: e.secret, unknown: e.unknown, sha256: e.sha256 },
      {
        format: "yaml",
        kind: "helm-values",
        secret: undefined,
        unknown: undefined,
        sha256: createHash("sha256").update(text).digest("hex"),
      },
    );
    assert.match(e.urn, /kubernetes:helm.sh\/v3:Release::istiod$/);
  });

  it("writes a secret and an unknown inside an object in their place, and says so", () => {
    const text = read("ceph/apply.env.yaml");
    assert.equal(text, "FSID: '[unknown]'\nMODE: apply\nTOKEN: '[secret]'\n");
    const e = entry("ceph/apply.env.yaml");
    assert.deepEqual([e.secret, e.unknown, e.sha256], [true, true, undefined]);
  });

  it("hides a secret inside a Release's values in its place, though the SDK marks all the values secret", () => {
    assert.equal(read("monitoring/grafana.values.yaml"), "adminPassword: '[secret]'\nadminUser: admin\n");
    assert.equal(entry("monitoring/grafana.values.yaml").secret, true);
    const resources = fs.readFileSync(path.join(dir, "resources.json"), "utf8");
    assert.doesNotMatch(resources, /s3cr3t/);
    assert.doesNotMatch(fs.readFileSync(path.join(dir, "artifacts", "ceph", "apply.env.yaml"), "utf8"), /s3cr3t/);
  });

  it("follows a dotted path into an object", () => {
    assert.equal(read("mesh/labels.yaml"), "app: istiod\ntier: mesh\n");
  });

  it("writes a Kubernetes object's whole input for property '.'", () => {
    const resources = JSON.parse(fs.readFileSync(path.join(dir, "resources.json"), "utf8")) as {
      name: string;
      inputs: Record<string, unknown>;
    }[];
    const cm = resources.find((r) => r.name === "mesh-settings")!;
    const text = read("mesh/settings.configmap.yaml");
    assert.equal(text, toYaml(cm.inputs));
    assert.match(text, /^apiVersion: v1\ndata:\n {2}a: first\n {2}z: last\nkind: ConfigMap\nmetadata:\n {2}labels:\n/);
    assert.equal(entry("mesh/settings.configmap.yaml").property, ".");
  });

  it("keeps YAML sent as stdin exactly as sent", () => {
    assert.equal(read("ceph/osd.spec.yaml"), toYaml(SPEC));
    assert.match(read("ceph/osd.spec.yaml"), /^service_id: nvme\nservice_type: osd\nspec:\n {2}data_devices:\n/);
    const e = entry("ceph/osd.spec.yaml");
    assert.deepEqual([e.format, e.kind, e.property], ["yaml", "cephadm-spec", "stdin"]);
  });
});

describe("offline plan: capturing an artifact", () => {
  const secret = (value: unknown): unknown => ({
    [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
    value,
  });
  const tag = { kind: "helm-values", target: "t", file: "f" } as const;

  it("a text artifact must be text; a yaml one an object or YAML text", () => {
    assert.equal(captureArtifact({ v: { a: 1 } }, { ...tag, property: "v" }).error, "input 'v' is not text");
    assert.equal(
      captureArtifact({ v: 3 }, { ...tag, property: "v", format: "yaml" }).error,
      "input 'v' is not an object or YAML text",
    );
    assert.equal(captureArtifact({ v: "a: 1\n" }, { ...tag, property: "v", format: "yaml" }).text, "a: 1\n");
  });

  it("a wholly secret or unknown input is a placeholder file, with the SDK's own markers", () => {
    assert.deepEqual(captureArtifact({ v: secret({ a: 1 }) }, { ...tag, property: "v", format: "yaml" }), {
      text: "[secret]\n",
      secret: true,
      unknown: false,
    });
    const unknown = captureArtifact({ v: pulumi.runtime.unknownValue }, { ...tag, property: "v" });
    assert.deepEqual([unknown.text, unknown.unknown], ["[unknown]\n", true]);
    assert.deepEqual(sanitize({ b: [secret("x")], a: pulumi.runtime.unknownValue }), {
      a: "[unknown]",
      b: ["[secret]"],
    });
  });
});
