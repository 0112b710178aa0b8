/**
 * The cross-key rules added for hostile and real-world stack files (issue "before the
 * next four tiers"): each case breaks or reshapes one thing of a committed stack and
 * asserts the exact lines, or that a real cabling is accepted.
 */
import { strict as assert } from "assert";
import { parseEstate } from "../../config/validate";
import { syntheticHostKey } from "../../tools/synth-estate";
import { edit, problems, rawConfig } from "../helpers/config";

const dev = rawConfig("dev");
const prod = rawConfig("prod");

function warnings(raw: ReturnType<typeof rawConfig>): readonly string[] {
  return parseEstate(raw).warnings;
}

describe("config rules: collisions across hosts and tiers", () => {
  it("rejects the same host key on two hosts (a copy-paste mistake)", () => {
    const raw = edit(dev, "servers", (s) => void (s[2].hostKey = s[0].hostKey));
    assert.deepEqual(problems(raw), [
      "estate:servers[2].hostKey: is the host key of srv-1 too; copy each host's own key (ssh-keyscan -t ed25519 <host>)",
    ]);
  });

  it("rejects a server pinned to the spines' ASN", () => {
    const raw = edit(dev, "servers", (s) => void (s[1].asn = 65000));
    assert.deepEqual(problems(raw), [
      "estate:servers[1].asn: 65000 is the spines' ASN; server srv-2 needs its own ASN for eBGP to the spines",
    ]);
  });

  it("rejects a spine pinned to a leaf's allocated ASN, at the spine", () => {
    const raw = edit(dev, "switches", (s) => void (s[0].asn = 65101));
    assert.deepEqual(problems(raw), [
      "estate:switches[0].asn: 65101 is also the ASN of leaf leaf-1b; give the spines an ASN that no leaf or server uses",
    ]);
  });

  it("reports overlapping ASN bases once, at the base that caused it", () => {
    const raw = {
      ...dev,
      values: { ...dev.values, "estate:fabric": JSON.stringify({ asns: { serverBase: 65100 } }) },
    };
    assert.deepEqual(problems(raw), [
      "estate:fabric.asns.serverBase: 65100 is also the ASN of leaf leaf-1a; leaves and servers need distinct ASNs",
    ]);
  });

  it("reports a loopback pool too small for its hosts once, at the pool, with no advice to pin", () => {
    const raw = edit(dev, "pools", (p) => void (p.loopbacks = "10.111.0.0/29"));
    assert.deepEqual(problems(raw), [
      'estate:pools.loopbacks: "10.111.0.0/29" holds 1 switch and 5 server loopbacks; 3 switches and 3 servers need a larger pool',
    ]);
  });

  it("reports a pin onto another host's allocated loopback at the pin", () => {
    const raw = edit(dev, "switches", (s) => void (s[0].loopback = "10.111.0.64"));
    assert.deepEqual(problems(raw), [
      "estate:switches[0].loopback: 10.111.0.64 is also the allocated loopback of srv-1; pin spine-1 to an address no host is allocated",
    ]);
  });
});

describe("config rules: ports and counts", () => {
  it("rejects ingress NodePorts that are equal", () => {
    const raw = {
      ...dev,
      values: {
        ...dev.values,
        "estate:kubernetes": JSON.stringify({ ingressNodePorts: { https: 30443, http: 30443 } }),
      },
    };
    assert.deepEqual(problems(raw), [
      "estate:kubernetes.ingressNodePorts.http: 30443 is also kubernetes.ingressNodePorts.https; the gateway's HTTP and HTTPS need two NodePorts",
    ]);
  });

  it("rejects a NodePort that is a Kubernetes node's SSH port", () => {
    const raw = edit(dev, "servers", (s) => void (s[2].ssh = { port: 30443 }));
    assert.deepEqual(problems(raw), [
      "estate:kubernetes.ingressNodePorts.https: 30443 is also servers[2].ssh.port on a Kubernetes node; pick a free NodePort in 30000-32767",
    ]);
  });

  it("rejects a NodePort that Nginx listens on, on a balancer that is also a Kubernetes node", () => {
    const raw = edit(dev, "frontend", (f) => void (f.ports = { https: 30443, http: 80 }));
    assert.deepEqual(problems(raw), [
      "estate:kubernetes.ingressNodePorts.https: 30443 is also frontend.ports.https on a Kubernetes node; pick a free NodePort in 30000-32767",
    ]);
  });

  it("bounds the balancers so that VRRP priorities stay within 1-254", () => {
    const raw = edit(prod, "servers", (s) => {
      for (let i = 0; i < 14; i++) {
        const lb = JSON.parse(JSON.stringify(s[0]));
        lb.name = `lb-x${i}`;
        lb.mgmtAddress = `10.10.0.${150 + i}`;
        lb.hostKey = syntheticHostKey(lb.name);
        lb.hardware.disks = lb.hardware.disks.map((d: object, j: number) => ({ ...d, serial: `X${i}D${j}` }));
        lb.frontend.address = `10.20.0.${150 + i}`;
        lb.uplinks = lb.uplinks.map((u: { port: string }, j: number) => ({ ...u, port: `swp${60 + i * 2 + j}` }));
        delete lb.loopback;
        delete lb.asn;
        s.push(lb);
      }
    });
    assert.deepEqual(problems(raw), [
      "estate:servers: has 16 servers with role lb; one VRRP group takes at most 15 (priorities 150 down to 10 in steps of 10, keepalived allows 1-254), so give the role lb to at most 15",
    ]);
  });
});

describe("config rules: Ceph sanity", () => {
  it("requires an OS disk on an OSD host", () => {
    const raw = edit(
      dev,
      "servers",
      (s) => void (s[2].hardware.disks = s[2].hardware.disks.filter((d: { use?: string }) => d.use !== "os")),
    );
    assert.deepEqual(problems(raw), [
      "estate:servers[2].hardware.disks: has no disk with use 'os' on a ceph-osd host; list the OS disk so that no OSD spec can ever select it",
    ]);
  });

  it("rejects monitors without any manager", () => {
    const raw = edit(dev, "servers", (s) => {
      for (const sv of s) sv.roles = sv.roles.filter((r: string) => r !== "ceph-mgr");
    });
    assert.deepEqual(problems(raw), [
      "estate:servers: has ceph-mon but no server with role ceph-mgr; give the role ceph-mgr to a monitor host",
    ]);
  });

  it("rejects a single manager when Ceph is highly available", () => {
    const raw = edit(dev, "servers", (s) => void (s[1].roles = s[1].roles.filter((r: string) => r !== "ceph-mgr")));
    assert.deepEqual(problems(raw), [
      "estate:ceph.highAvailability: is true but only 1 server has role ceph-mgr; add a standby manager (a second ceph-mgr) or set it to false",
    ]);
  });

  it("counts replicas against the hosts that carry each pool's device class", () => {
    const raw = edit(prod, "servers", (s) => {
      for (const name of ["osd-3", "osd-4"]) {
        const sv = s.find((x: { name: string }) => x.name === name);
        sv.hardware.disks = sv.hardware.disks.filter((d: { class: string }) => d.class !== "hdd");
      }
    });
    assert.deepEqual(problems(raw), [
      "estate:ceph.replicas: 3 is more than the 2 host(s) with hdd OSDs for pool kube-warm; Ceph places one replica per host, so use at most 2 or add hdd OSD hosts",
    ]);
  });

  it("requires an RGW host when the cold tier is on", () => {
    const raw = edit(dev, "servers", (s) => void (s[0].roles = s[0].roles.filter((r: string) => r !== "ceph-rgw")));
    assert.deepEqual(problems(raw), [
      "estate:ceph.coldTier.enabled: is true but no server has role ceph-rgw; give the role ceph-rgw to a host for the S3 endpoint, or set it to false",
    ]);
  });

  it("requires one SSH user on every Ceph host (cephadm's)", () => {
    const raw = edit(dev, "servers", (s) => void (s[1].ssh = { user: "admin" }));
    assert.deepEqual(problems(raw), [
      'estate:servers[1].ssh.user: "admin" differs from srv-1\'s "estate"; cephadm logs in to every Ceph host as one user, so use one',
    ]);
  });

  it("rejects min_size equal to the replica count", () => {
    const raw = edit(dev, "ceph", (c) => void (c.minSize = 3));
    assert.deepEqual(problems(raw), [
      "estate:ceph.minSize: 3 equals ceph.replicas; one host down would stop every write, so use 2",
    ]);
  });
});

describe("config rules: message wording", () => {
  it("prints an exclusive minimum as exclusive", () => {
    const raw = {
      ...dev,
      values: { ...dev.values, "estate:fabric": JSON.stringify({ oversubscriptionLimit: 0 }) },
    };
    assert.deepEqual(problems(raw), [
      "estate:fabric.oversubscriptionLimit: 0 must be greater than 0; use a larger value",
    ]);
  });

  it("names objects and lists the way people say them", () => {
    const raw = { ...dev, values: { ...dev.values, "estate:ceph": "[1]", "estate:servers": '{"a":1}' } };
    assert.deepEqual(problems(raw), [
      'estate:servers: {"a":1} is not a list; write a list',
      "estate:ceph: [1] is not an object (a map of keys); write an object (a map of keys)",
    ]);
  });
});

describe("config rules: real cabling that must be accepted", () => {
  it("accepts two parallel links between a leaf and a spine", () => {
    const raw = edit(dev, "switches", (s) => {
      s[1].uplinks.push({ spine: "spine-1", port: "swp52", spinePort: "swp3", speedGbps: 100 });
      s[2].uplinks.push({ spine: "spine-1", port: "swp52", spinePort: "swp4", speedGbps: 100 });
    });
    assert.deepEqual(problems(raw), []);
  });

  it("accepts a server cabled to a neighbouring rack's leaf pair, keeping its own rack", () => {
    const raw = edit(dev, "servers", (s) => void (s[2].rack = "r2"));
    assert.deepEqual(problems(raw), []);
    const r = parseEstate(raw);
    assert.ok(r.ok);
    assert.equal(r.estate.servers[2].rack, "r2");
  });

  it("accepts more than one uplink per leaf on a server", () => {
    const raw = edit(dev, "servers", (s) => {
      s[2].hardware.nics.push({ name: "ens2f0", speedGbps: 25 }, { name: "ens2f1", speedGbps: 25 });
      s[2].uplinks.push(
        { leaf: "leaf-1a", port: "swp30", nic: "ens2f0" },
        { leaf: "leaf-1b", port: "swp30", nic: "ens2f1" },
      );
    });
    assert.deepEqual(problems(raw), []);
  });

  it("warns when a server's uplinks run at different speeds", () => {
    const raw = edit(dev, "servers", (s) => void (s[2].hardware.nics[1].speedGbps = 10));
    assert.deepEqual(problems(raw), []);
    assert.ok(
      warnings(raw).includes(
        "estate:servers[2].uplinks: srv-3's uplinks run at 10, 25 Gb/s; ECMP splits flows evenly, so use one speed for all uplinks",
      ),
      warnings(raw).join("\n"),
    );
  });
});
