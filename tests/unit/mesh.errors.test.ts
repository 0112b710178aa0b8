/** Mesh validation (`estate:mesh`): the defaults, and the exact line for every bad value. */
import { strict as assert } from "assert";
import { parseEstate } from "../../config/validate";
import { edit, problems, rawConfig } from "../helpers/config";

const prod = rawConfig("prod");
const dev = rawConfig("dev");
const withMesh = (raw = prod, mesh: unknown = {}) => edit(raw, "mesh", () => mesh);
const mirror = { namespace: "apps", service: "shop", mirrorTo: "shop-next", percent: 10 };

describe("mesh validation: defaults", () => {
  it("the committed stacks pass, with two istiod replicas and no mirrors by default", () => {
    for (const raw of [prod, dev]) {
      assert.deepEqual(problems(raw), []);
      const r = parseEstate(raw);
      assert.ok(r.ok);
      assert.deepEqual(r.estate.mesh, { istiod: { replicas: 2, maxReplicas: 5 }, mirrors: [] });
    }
  });

  it("takes one istiod replica when the mesh is not highly available", () => {
    const raw = withMesh(prod, { highAvailability: false, istiod: { replicas: 1 } });
    assert.deepEqual(problems(raw), []);
    const r = parseEstate(raw);
    assert.ok(r.ok);
    assert.deepEqual(r.estate.mesh.istiod, { replicas: 1, maxReplicas: 5 });
  });

  it("takes mirrors into an application namespace", () => {
    const r = parseEstate(withMesh(prod, { mirrors: [mirror, { ...mirror, service: "cart", percent: 0.5 }] }));
    assert.ok(r.ok);
    assert.deepEqual(
      r.estate.mesh.mirrors.map((m) => `${m.service}->${m.mirrorTo} ${m.percent}`),
      ["shop->shop-next 10", "cart->shop-next 0.5"],
    );
  });
});

describe("mesh validation: errors", () => {
  it("one istiod in a highly available mesh (the default follows kubernetes.highAvailability)", () => {
    assert.deepEqual(problems(withMesh(prod, { istiod: { replicas: 1 } })), [
      "estate:mesh.istiod.replicas: 1 is fewer than the 2 istiod replicas a highly available mesh needs; use at least 2 or set mesh.highAvailability to false",
    ]);
    assert.deepEqual(problems(withMesh(prod, { highAvailability: true, istiod: { replicas: 1 } })).length, 1);
  });

  it("an autoscaler maximum below its minimum", () => {
    assert.deepEqual(problems(withMesh(prod, { istiod: { replicas: 3, maxReplicas: 2 } })), [
      "estate:mesh.istiod.maxReplicas: 2 is less than mesh.istiod.replicas (3); the autoscaler's maximum must be at least its minimum",
    ]);
  });

  it("out-of-range, mistyped and unknown values, each naming its key", () => {
    assert.deepEqual(problems(withMesh(prod, { istiod: { replicas: 0 } })), [
      "estate:mesh.istiod.replicas: 0 is too small; use at least 1",
    ]);
    assert.deepEqual(problems(withMesh(prod, { istiod: { replicas: "two" } })), [
      'estate:mesh.istiod.replicas: "two" is not a number; write a number',
    ]);
    assert.deepEqual(problems(withMesh(prod, { highAvailability: "yes" })), [
      'estate:mesh.highAvailability: "yes" is not a boolean; write a boolean',
    ]);
    assert.deepEqual(problems(withMesh(prod, { mirror: [] })), [
      "estate:mesh.mirror: unknown key \"mirror\"; did you mean 'mirrors'? allowed keys: highAvailability, istiod, mirrors",
    ]);
  });

  it("a mirror outside the application namespaces, onto itself, twice, or with a bad share", () => {
    assert.deepEqual(problems(withMesh(prod, { mirrors: [{ ...mirror, namespace: "kube-system" }] })), [
      'estate:mesh.mirrors[0].namespace: "kube-system" is not an application namespace; name one of apps (kubernetes.applicationNamespaces)',
    ]);
    assert.deepEqual(problems(withMesh(prod, { mirrors: [{ ...mirror, mirrorTo: "shop" }] })), [
      'estate:mesh.mirrors[0].mirrorTo: "shop" is the mirrored service itself; name another service in "apps"',
    ]);
    assert.deepEqual(problems(withMesh(prod, { mirrors: [mirror, { ...mirror, mirrorTo: "shop-canary" }] })), [
      'estate:mesh.mirrors[1].service: "shop" in "apps" is already mirrored by mesh.mirrors[0]; one mirror per service, remove one',
    ]);
    assert.deepEqual(problems(withMesh(prod, { mirrors: [{ ...mirror, percent: 0 }] })), [
      "estate:mesh.mirrors[0].percent: 0 is too small; use at least 0.01",
    ]);
    assert.deepEqual(problems(withMesh(prod, { mirrors: [{ ...mirror, percent: 150 }] })), [
      "estate:mesh.mirrors[0].percent: 150 is too large; use at most 100",
    ]);
    assert.deepEqual(problems(withMesh(prod, { mirrors: [{ ...mirror, percent: 0.125 }] })), [
      "estate:mesh.mirrors[0].percent: 0.125 must have at most two decimals; write it like 10 or 12.5",
    ]);
    assert.deepEqual(problems(withMesh(prod, { mirrors: [{ ...mirror, service: "Shop_1" }] })), [
      "estate:mesh.mirrors[0].service: \"Shop_1\" must be a lower-case DNS label (a-z, 0-9, '-' inside, at most 63 characters); write it like node-1",
    ]);
    assert.deepEqual(problems(withMesh(prod, { mirrors: [{ namespace: "apps", service: "shop", percent: 5 }] })), [
      "estate:mesh.mirrors[0].mirrorTo: is required (a string); add it to the stack file",
    ]);
  });
});
