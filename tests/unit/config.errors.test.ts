/**
 * One test per validation rule, each asserting the exact line an operator reads.
 * Every case starts from the committed dev (or prod) stack and breaks one thing.
 */
import { strict as assert } from "assert";
import { parseEstate } from "../../config/validate";
import { edit, FIVE_MISTAKES, problems, rawConfig, withFiveMistakes } from "../helpers/config";

const dev = rawConfig("dev");
const prod = rawConfig("prod");

describe("config validation: errors", () => {
  it("accepts the committed dev and prod stacks", () => {
    assert.deepEqual(problems(dev), []);
    assert.deepEqual(problems(prod), []);
  });

  it("names a malformed address with its key and the expected form", () => {
    const raw = edit(dev, "servers", (s) => void (s[1].mgmtAddress = "10.110.0.300"));
    assert.deepEqual(problems(raw), [
      'estate:servers[1].mgmtAddress: "10.110.0.300" must be an IPv4 address in dotted-quad form without a prefix; write it like 10.10.0.11',
    ]);
  });

  it("names a wrong type", () => {
    const raw = edit(dev, "ceph", (c) => void (c.replicas = "three"));
    assert.deepEqual(problems(raw), ['estate:ceph.replicas: "three" is not a number; write a number']);
  });

  it("names a missing required field", () => {
    const raw = edit(dev, "servers", (s) => void delete s[0].hostKey);
    assert.deepEqual(problems(raw), ["estate:servers[0].hostKey: is required (a string); add it to the stack file"]);
  });

  it("suggests the right spelling of an unknown key inside an entry", () => {
    const raw = edit(dev, "servers", (s) => {
      s[2].mgmtAdress = s[2].mgmtAddress;
    });
    assert.deepEqual(problems(raw), [
      "estate:servers[2].mgmtAdress: unknown key \"mgmtAdress\"; did you mean 'mgmtAddress'? allowed keys: name, mgmtAddress, ssh, hostKey, roles, rack, hardware, uplinks, loopback, asn, frontend",
    ]);
  });

  it("rejects an unknown top-level key and suggests the known one", () => {
    const raw = { ...dev, values: { ...dev.values, "estate:sever": "[]" } };
    assert.equal(
      problems(raw)[0],
      "estate:sever: unknown key; did you mean 'servers'? known keys: site, ssh, node, pools, versions, switches, servers, fabric, frontend, kubernetes, ceph, monitoring, mesh, sshPrivateKey, tlsCertificate, tlsKey, alertmanagerCredentials",
    );
  });

  it("rejects a role that does not exist", () => {
    const raw = edit(dev, "servers", (s) => void (s[0].roles = ["k8s-master"]));
    assert.equal(
      problems(raw)[0],
      'estate:servers[0].roles[0]: "k8s-master" is not allowed; use one of "k8s-server", "k8s-agent", "ceph-mon", "ceph-mgr", "ceph-osd", "ceph-rgw", "lb"',
    );
  });

  it("rejects a host key whose data does not match its type", () => {
    const raw = edit(dev, "servers", (s) => {
      s[0].hostKey = s[0].hostKey.replace("ssh-ed25519", "ssh-rsa");
    });
    const lines = problems(raw);
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /^estate:servers\[0\]\.hostKey: "ssh-rsa AAAA[^"]*\.\.\. has key data for 'ssh-ed25519', not 'ssh-rsa'; copy the whole line from ssh-keyscan$/,
    );
  });

  it("rejects an unstable disk path", () => {
    const raw = edit(dev, "servers", (s) => void (s[0].hardware.disks[1].path = "/dev/nvme0n1"));
    assert.deepEqual(problems(raw), [
      'estate:servers[0].hardware.disks[1].path: "/dev/nvme0n1" must be a stable device path under /dev/disk/by-id/ or /dev/disk/by-path/; write the disk\'s link there, e.g. /dev/disk/by-id/nvme-MODEL_SERIAL',
    ]);
  });

  it("rejects a duplicate host name", () => {
    const raw = edit(dev, "servers", (s) => void (s[2].name = "srv-1"));
    const lines = problems(raw);
    assert.ok(
      lines.includes(
        'estate:servers[2].name: "srv-1" is already used by servers[0]; every host and switch needs its own name',
      ),
      lines.join("\n"),
    );
  });

  it("rejects a management address used twice, across switches and servers", () => {
    const raw = edit(dev, "servers", (s) => void (s[1].mgmtAddress = "10.110.0.11"));
    assert.deepEqual(problems(raw), [
      'estate:servers[1].mgmtAddress: "10.110.0.11" is already used by leaf-1a; every host and switch needs its own address',
    ]);
  });

  it("rejects a management address outside its pool", () => {
    const raw = edit(dev, "switches", (s) => void (s[0].mgmtAddress = "10.9.0.2"));
    assert.deepEqual(problems(raw), [
      'estate:switches[0].mgmtAddress: "10.9.0.2" is outside pools.management (10.110.0.0/24); use an address inside it',
    ]);
  });

  it("rejects overlapping pools", () => {
    const raw = edit(dev, "pools", (p) => void (p.serviceCidr = "10.142.128.0/17"));
    assert.deepEqual(problems(raw), [
      'estate:pools.serviceCidr: "10.142.128.0/17" overlaps pools.podCidr (10.142.0.0/16); give each pool its own range',
    ]);
  });

  it("rejects a leaf ASN used twice", () => {
    const raw = edit(dev, "switches", (s) => {
      s[1].asn = 65101;
      s[2].asn = 65101;
    });
    assert.deepEqual(problems(raw), [
      "estate:switches[2].asn: 65101 is already used by leaf-1a; each leaf needs its own ASN",
    ]);
  });

  it("rejects an explicit leaf ASN that another leaf gets from the pool, at the pin that caused it", () => {
    const raw = edit(dev, "switches", (s) => void (s[1].asn = 65101)); // leaf-1b is 65100 + 1
    assert.deepEqual(problems(raw), [
      "estate:switches[1].asn: 65101 is already used by leaf-1b; each leaf needs its own ASN",
    ]);
  });

  it("rejects a leaf on the spines' ASN (iBGP would never come up against remote-as external)", () => {
    const raw = edit(dev, "switches", (s) => void (s[1].asn = 65000));
    assert.deepEqual(problems(raw), [
      "estate:switches[1].asn: 65000 is the spines' ASN; leaf leaf-1a needs its own ASN for eBGP to the spines",
    ]);
  });

  it("rejects a leaf on a server's ASN", () => {
    const raw = edit(dev, "switches", (s) => void (s[2].asn = 4200000001));
    assert.deepEqual(problems(raw), [
      "estate:switches[2].asn: 4200000001 is also the ASN of server srv-2; leaves and servers need distinct ASNs",
    ]);
  });

  it("rejects a pinned loopback that another host already has", () => {
    const raw = edit(dev, "servers", (s) => void (s[2].loopback = "10.111.0.64")); // srv-1's, by position
    assert.deepEqual(problems(raw), [
      "estate:servers[2].loopback: 10.111.0.64 is already the loopback of srv-1; pin srv-3 to a free address of pools.loopbacks",
    ]);
  });

  it("rejects a pinned loopback outside its pool", () => {
    const raw = edit(dev, "servers", (s) => void (s[2].loopback = "10.99.0.1"));
    assert.deepEqual(problems(raw), [
      'estate:servers[2].loopback: "10.99.0.1" is outside pools.loopbacks (10.111.0.0/24); pin an address inside it',
    ]);
  });

  it("rejects a pinned server ASN that another server has", () => {
    const raw = edit(dev, "servers", (s) => void (s[2].asn = 4200000000));
    assert.deepEqual(problems(raw), [
      "estate:servers[2].asn: 4200000000 is already the ASN of server srv-1; each server needs its own ASN",
    ]);
  });

  it("rejects an ASN outside the private ranges", () => {
    const raw = edit(dev, "switches", (s) => void (s[1].asn = 3356));
    assert.deepEqual(problems(raw), [
      "estate:switches[1].asn: 3356 is outside the private ASN ranges; use 64512-65534 or 4200000000-4294967294",
    ]);
  });

  it("requires an odd number, at least 3, of K3s servers when Kubernetes is highly available", () => {
    const raw = edit(dev, "servers", (s) => void (s[2].roles = ["ceph-mon", "ceph-osd"]));
    assert.deepEqual(problems(raw), [
      "estate:kubernetes.highAvailability: is true but there are 2 k8s-server nodes; use an odd number of at least 3 (3, 5, 7) or set it to false",
    ]);
  });

  it("requires an odd number, at least 3, of Ceph monitors when Ceph is highly available", () => {
    const raw = edit(prod, "servers", (s) => {
      s.find((x: { name: string }) => x.name === "wrk-1").roles.push("ceph-mon");
    });
    assert.deepEqual(problems(raw), [
      "estate:ceph.highAvailability: is true but there are 4 ceph-mon nodes; use an odd number of at least 3 (3, 5, 7) or set it to false",
    ]);
  });

  it("rejects more replicas than the hosts that carry the pool's device class", () => {
    const raw = edit(dev, "ceph", (c) => void (c.replicas = 4));
    assert.deepEqual(problems(raw), [
      "estate:ceph.replicas: 4 is more than the 3 host(s) with nvme OSDs for pool kube-hot; Ceph places one replica per host, so use at most 3 or add nvme OSD hosts",
    ]);
  });

  it("rejects a min_size above the replica count", () => {
    const raw = edit(dev, "ceph", (c) => {
      c.replicas = 2;
      c.minSize = 3;
    });
    assert.deepEqual(problems(raw), ["estate:ceph.minSize: 3 is more than ceph.replicas (2); use at most 2"]);
  });

  it("rejects a time zone that does not exist", () => {
    const raw = edit(dev, "site", (x) => void (x.timezone = "Europe/Atlantis"));
    assert.deepEqual(problems(raw), [
      'estate:site.timezone: "Europe/Atlantis" must be an IANA time zone; write it like UTC or Europe/Berlin',
    ]);
  });

  it("rejects a time server that is neither an address nor a name", () => {
    const raw = edit(dev, "site", (x) => void (x.timeServers = ["10.110.0.250 iburst maxpoll 4"]));
    assert.deepEqual(problems(raw), [
      'estate:site.timeServers[0]: "10.110.0.250 iburst maxpoll 4" must be an IPv4 address (four numbers 0-255) or a DNS name whose last label has a letter; write it like 10.10.0.250 or ntp1.example.net',
    ]);
  });

  it("rejects the same port for HTTP and HTTPS", () => {
    const raw = edit(dev, "frontend", (f) => void (f.ports = { https: 443, http: 443 }));
    assert.deepEqual(problems(raw), [
      "estate:frontend.ports.http: 443 is also frontend.ports.https; HTTP (redirect only) and HTTPS need two ports",
    ]);
  });

  it("rejects a balancer on the segment's broadcast address", () => {
    const raw = edit(dev, "servers", (s) => void (s[0].frontend.address = "10.120.0.255"));
    assert.deepEqual(problems(raw), [
      'estate:servers[0].frontend.address: "10.120.0.255" is the network or broadcast address of pools.frontend; use a host address',
    ]);
  });

  it("rejects a front-tier gateway outside the segment", () => {
    const raw = edit(dev, "frontend", (f) => void (f.gateway = "10.110.0.1"));
    assert.deepEqual(problems(raw), [
      'estate:frontend.gateway: "10.110.0.1" is not a host address of pools.frontend (10.120.0.0/24); name the segment\'s router',
    ]);
  });

  it("rejects a VIP outside the front-tier segment", () => {
    const raw = edit(dev, "frontend", (f) => void (f.vip = "10.121.0.10"));
    assert.deepEqual(problems(raw), [
      'estate:frontend.vip: "10.121.0.10" is outside pools.frontend (10.120.0.0/24); put the VIP inside the segment',
    ]);
  });

  it("rejects a VIP that is a balancer's own address", () => {
    const raw = edit(dev, "frontend", (f) => void (f.vip = "10.120.0.11"));
    assert.deepEqual(problems(raw), [
      'estate:servers[0].frontend.address: "10.120.0.11" is the VIP; give the balancer its own address',
    ]);
  });

  it("requires two balancers when the front tier is highly available", () => {
    const raw = edit(dev, "servers", (s) => {
      s[1].roles = s[1].roles.filter((r: string) => r !== "lb");
      delete s[1].frontend;
      s[1].hardware.nics.pop();
    });
    assert.deepEqual(problems(raw), [
      "estate:frontend.highAvailability: is true but only 1 server has role lb; add a second balancer or set it to false",
    ]);
  });

  it("requires a server's two uplinks on two different leaves", () => {
    const raw = edit(dev, "servers", (s) => void (s[0].uplinks[1] = { leaf: "leaf-1a", port: "swp9", nic: "ens1f1" }));
    assert.deepEqual(problems(raw), [
      'estate:servers[0].uplinks[1].leaf: "leaf-1a" is the leaf of every other uplink too; cable every server to at least two different leaves so that losing a leaf loses no server',
    ]);
  });

  it("requires two uplinks per server", () => {
    const raw = edit(dev, "servers", (s) => void s[0].uplinks.pop());
    assert.deepEqual(problems(raw), [
      "estate:servers[0].uplinks: has 1 uplink(s); cable every server to at least two leaves so that losing a leaf loses no server",
    ]);
  });

  it("rejects an uplink to a switch that does not exist", () => {
    const raw = edit(dev, "servers", (s) => void (s[0].uplinks[1].leaf = "leaf-9z"));
    assert.deepEqual(problems(raw), [
      'estate:servers[0].uplinks[1].leaf: "leaf-9z" is not a switch in estate:switches; name one of leaf-1a, leaf-1b',
    ]);
  });

  it("rejects a leaf without uplinks", () => {
    const raw = edit(dev, "switches", (s) => void (s[2].uplinks = []));
    assert.deepEqual(problems(raw), [
      "estate:switches[2].uplinks: leaf leaf-1b has no uplinks; cable it to every spine",
    ]);
  });

  it("rejects a port cabled twice", () => {
    const raw = edit(dev, "servers", (s) => void (s[1].uplinks[0].port = "swp1"));
    assert.deepEqual(problems(raw), [
      'estate:servers[1].uplinks[0].port: "swp1" on leaf-1a is already cabled to srv-1; use a free port',
    ]);
  });

  it("names the exact command that sets a missing secret", () => {
    const values = { ...dev.values };
    delete values["estate:sshPrivateKey"];
    assert.deepEqual(problems({ ...dev, values }), [
      "estate:sshPrivateKey: is missing (the SSH private key the estate logs in with); set it with: pulumi config set --secret estate:sshPrivateKey --stack dev < ~/.ssh/estate_ed25519",
    ]);
  });

  it("refuses a secret stored in plain text", () => {
    const raw = { ...dev, secretKeys: dev.secretKeys.filter((k) => k !== "estate:sshPrivateKey") };
    assert.deepEqual(problems(raw), [
      "estate:sshPrivateKey: is stored in plain text; remove it (pulumi config rm estate:sshPrivateKey --stack dev) and set it with: pulumi config set --secret estate:sshPrivateKey --stack dev < ~/.ssh/estate_ed25519",
    ]);
  });

  it("reports every problem of a config with five mistakes in one pass", () => {
    const lines = problems(withFiveMistakes(prod));
    const keys = lines.map((l) => l.split(": ")[0]);
    for (const k of FIVE_MISTAKES.keys) assert.ok(keys.includes(k), `${k} missing from:\n${lines.join("\n")}`);
  });

  it("never returns a model when there is a problem", () => {
    const r = parseEstate(edit(dev, "ceph", (c) => void (c.replicas = 9)));
    assert.equal(r.ok, false);
    assert.equal("estate" in r, false);
  });
});
