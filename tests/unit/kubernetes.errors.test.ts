/**
 * Kubernetes rules and schema: the exact lines for resources below K3s' needs, the K3s
 * checksum, the API endpoint, the snapshot schedule, and pod/service CIDRs against the pools.
 */
import { strict as assert } from "assert";
import { checksumWarning, k3sInputFor } from "../../components/kubernetes/input";
import { parseEstate } from "../../config/validate";
import { edit, problems, rawConfig } from "../helpers/config";

const dev = rawConfig("dev");

describe("kubernetes rules", () => {
  it("accepts the committed stacks; their placeholder checksum is the component's warning, not a problem", () => {
    for (const raw of [dev, rawConfig("prod")]) assert.deepEqual(problems(raw), []);
    const r = parseEstate(dev);
    assert.ok(r.ok);
    assert.equal(
      checksumWarning(r.estate),
      "estate:kubernetes.k3s.sha256: is a placeholder (all zeros): every K3s install will stop at checksum verification; set it to the amd64 line of sha256sum-amd64.txt of v1.34.2+k3s1",
    );
  });

  it("rejects a K3s server and an agent below what K3s needs", () => {
    let raw = edit(dev, "servers", (s) => {
      s[0].hardware.cores = 1;
      s[1].hardware.memoryGiB = 2;
    });
    assert.deepEqual(problems(raw), [
      "estate:servers[0].hardware.cores: 1 is fewer than the 2 cores a k8s-server node needs; give it at least 2 cores or drop the role",
      "estate:servers[1].hardware.memoryGiB: 2 is less than the 4 GiB a k8s-server node needs; give it at least 4 GiB or drop the role",
    ]);
    const prod = rawConfig("prod");
    raw = edit(prod, "servers", (s: { name: string; hardware: { memoryGiB: number } }[]) => {
      s.find((x) => x.name === "wrk-1")!.hardware.memoryGiB = 1;
    });
    assert.deepEqual(problems(raw), [
      "estate:servers[5].hardware.memoryGiB: 1 is less than the 2 GiB a k8s-agent node needs; give it at least 2 GiB or drop the role",
    ]);
  });

  it("rejects a malformed checksum and mirror URL, naming the fix", () => {
    const raw = edit(dev, "kubernetes", (k) => {
      k.k3s.sha256 = "ABC";
      k.k3s.url = "ftp://mirror/";
    });
    assert.deepEqual(problems(raw), [
      'estate:kubernetes.k3s.url: "ftp://mirror/" must be an http(s) URL of a release mirror without a trailing slash; write it like https://mirror.example.net/k3s',
      'estate:kubernetes.k3s.sha256: "ABC" must be a SHA-256 in lower-case hex (64 digits); copy it from sha256sum-amd64.txt of the K3s release',
    ]);
  });

  it("plans without a checksum, with a warning (the install refuses the binary)", () => {
    const raw = edit(dev, "kubernetes", (k) => void delete k.k3s.sha256);
    assert.deepEqual(problems(raw), []);
    const r = parseEstate(raw);
    assert.ok(r.ok);
    assert.match(checksumWarning(r.estate) ?? "", /^estate:kubernetes\.k3s\.sha256: \(missing\): every K3s install/);
    assert.equal(k3sInputFor(r.estate).sha256, "0".repeat(64));
    const set = edit(dev, "kubernetes", (k) => void (k.k3s.sha256 = "a".repeat(64)));
    const s = parseEstate(set);
    assert.ok(s.ok);
    assert.equal(checksumWarning(s.estate), undefined);
  });

  it("rejects an API endpoint address other than the front tier's VIP", () => {
    const raw = edit(dev, "kubernetes", (k) => void (k.apiEndpoint = { address: "10.120.0.99" }));
    assert.deepEqual(problems(raw), [
      'estate:kubernetes.apiEndpoint.address: "10.120.0.99" is not frontend.vip (10.120.0.10); the balancers forward the API (TCP 6443) on the VIP only, leave it unset or set it to the VIP',
    ]);
  });

  it("rejects a snapshot schedule that is not five cron fields, and a retention of zero", () => {
    const raw = edit(dev, "kubernetes", (k) => void (k.etcdSnapshots = { schedule: "every 6h", retention: 0 }));
    assert.deepEqual(problems(raw), [
      "estate:kubernetes.etcdSnapshots.schedule: \"every 6h\" must be a cron schedule of five fields of digits and * / , -; write it like '0 */6 * * *'",
      "estate:kubernetes.etcdSnapshots.retention: 0 is too small; use at least 1",
    ]);
  });

  it("rejects pod and service CIDRs that overlap each other or another pool", () => {
    let raw = edit(dev, "pools", (p) => void (p.serviceCidr = "10.142.128.0/17"));
    assert.deepEqual(problems(raw), [
      'estate:pools.serviceCidr: "10.142.128.0/17" overlaps pools.podCidr (10.142.0.0/16); give each pool its own range',
    ]);
    raw = edit(dev, "pools", (p) => void (p.podCidr = "10.111.0.0/16"));
    assert.deepEqual(problems(raw), [
      'estate:pools.podCidr: "10.111.0.0/16" overlaps pools.loopbacks (10.111.0.0/24); give each pool its own range',
    ]);
  });
});
