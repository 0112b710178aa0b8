/**
 * The Ceph configuration renderer as plain functions: the scripts of dev and prod pass
 * shellcheck and bash -n, carry the model's data only as single-quoted words, and say what
 * the model says (rules, pools, caps, managers, cold tier). The OSD-to-disk mapping (a jq
 * program inside the script) runs here on the JSON shapes Ceph prints, including the serial
 * match that the live lab (loop devices, no serials) cannot show. The read-keys script runs
 * against stand-ins for `ceph` and `radosgw-admin`.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { cephConfigureInputFor, cephPlanFor, hostsWithClass } from "../../components/ceph/input";
import {
  type CephConfigureInput,
  csiCaps,
  JQ_CLASS_PLAN,
  renderCephConfigure,
  renderCephReadKeys,
} from "../../components/ceph/render";
import { cephPools } from "../../config/allocate";
import { estateOf } from "../helpers/config";
import { checkScripts } from "../helpers/shellcheck";
import { requireTool } from "../helpers/tools";

const stacks = ["dev", "prod"] as const;

/** The script's data block: from `set -euo pipefail` to the jq programs. */
function dataBlock(script: string): string {
  const start = script.indexOf("crush_root=");
  const end = script.indexOf("# jq programs");
  assert.ok(start > 0 && end > start, "the script has a data block");
  return script.slice(start, end);
}

/** Runs `text` with bash and returns stdout; fails on a non-zero exit. */
function bash(text: string, env: Record<string, string> = {}): string {
  const r = spawnSync("bash", ["-c", text], { encoding: "utf8", env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe("ceph configuration renderer", () => {
  for (const stack of stacks) {
    describe(stack, () => {
      const estate = estateOf(stack);
      const input = cephConfigureInputFor(estate);
      const script = renderCephConfigure(input);

      it("passes bash -n and shellcheck (configure and read-keys)", () => {
        assert.deepEqual(checkScripts({ configure: script, readKeys: renderCephReadKeys(input) }), {});
      });

      it("carries data only as single-quoted words or arrays of them", () => {
        const lines = dataBlock(script)
          .split("\n")
          .filter((l) => l && !l.startsWith("#"));
        for (const l of lines)
          assert.match(l, /^([a-z_]+='[^']*'|[a-z_]+=\(| {2}'[^']*'|\))$/, `not a single-quoted data line: ${l}`);
      });

      it("never prints a key: no get-key, keyrings to /dev/null, no secret in an echo", () => {
        assert.doesNotMatch(script, /get-key|print-key|auth get /);
        assert.match(script, /auth get-or-create "\$csi_client" .* -o \/dev\/null/);
        assert.doesNotMatch(script, /echo .*(secret|access)_key/);
      });

      it("each pool's size fits the hosts carrying its rule's class", () => {
        for (const p of input.pools) {
          const cls = input.rules.find((r) => r.name === p.rule)!.deviceClass;
          assert.ok(p.size <= hostsWithClass(input.osdDisks, cls), `${p.name}: size ${p.size}`);
          assert.ok(p.minSize < p.size);
        }
      });

      it("OSD disks are the `use: osd` disks of ceph-osd servers only", () => {
        const want = estate.servers
          .filter((s) => s.roles.includes("ceph-osd"))
          .flatMap((s) => s.hardware.disks.filter((d) => d.use === "osd").map((d) => `${s.name} ${d.path}`));
        assert.deepEqual(
          input.osdDisks.map((d) => `${d.host} ${d.path}`),
          want,
        );
        assert.ok(want.length > 0);
      });

      it("managers serve Prometheus on their own loopbacks; the cold tier on the first RGW host", () => {
        const mgrs = estate.servers.filter((s) => s.roles.includes("ceph-mgr"));
        assert.deepEqual(input.prometheus, {
          port: 9283,
          managers: mgrs.map((s) => ({ host: s.name, address: s.loopback })),
        });
        const rgw = estate.servers.find((s) => s.roles.includes("ceph-rgw"))!;
        assert.deepEqual(input.rgw, {
          user: estate.ceph.coldTier.user,
          displayName: "estate backups and cold tier",
          bucket: estate.ceph.coldTier.bucket,
          endpoint: { address: rgw.loopback, port: 7480 },
        });
        assert.ok(script.includes(`rgw_url='http://${rgw.loopback}:7480'`));
      });
    });
  }

  it("dev: one hot tier on nvme, every other pool on it", () => {
    const input = cephConfigureInputFor(estateOf("dev"));
    assert.deepEqual(input.rules, [{ name: "hot", deviceClass: "nvme" }]);
    assert.deepEqual(input.pools, [{ name: "kube-hot", rule: "hot", size: 3, minSize: 2, pgNum: 32 }]);
    assert.equal(input.defaultRule, "hot");
    assert.deepEqual(input.csi, { client: "client.kubernetes", pools: ["kube-hot"] });
    assert.deepEqual(csiCaps(input.csi.pools), {
      mon: "profile rbd",
      osd: "profile rbd pool=kube-hot",
      mgr: "profile rbd pool=kube-hot",
    });
  });

  it("prod: hot on nvme, warm on hdd; other pools on warm; caps on both pools only", () => {
    const input = cephConfigureInputFor(estateOf("prod"));
    assert.deepEqual(input.rules, [
      { name: "hot", deviceClass: "nvme" },
      { name: "warm", deviceClass: "hdd" },
    ]);
    assert.deepEqual(
      input.pools.map((p) => [p.name, p.rule, p.size, p.minSize]),
      [
        ["kube-hot", "hot", 3, 2],
        ["kube-warm", "warm", 3, 2],
      ],
    );
    assert.equal(input.defaultRule, "warm");
    const script = renderCephConfigure(input);
    assert.ok(script.includes("csi_caps_osd='profile rbd pool=kube-hot, profile rbd pool=kube-warm'"));
    assert.ok(script.includes("csi_caps_mgr='profile rbd pool=kube-hot, profile rbd pool=kube-warm'"));
    assert.ok(script.includes("csi_caps_mon='profile rbd'"));
    // ctl/wrk hosts' nvme disks are spares: never OSDs.
    assert.deepEqual([...new Set(input.osdDisks.map((d) => d.host))], ["osd-1", "osd-2", "osd-3", "osd-4"]);
  });

  it("takes its pools from the one derivation the Ceph rules check (cephPools)", () => {
    for (const stack of ["dev", "prod"] as const) {
      const estate = estateOf(stack);
      const plan = cephPlanFor(estate);
      assert.deepEqual(
        plan.configure.pools.map((p) => `${p.name} ${p.rule} ${p.size}/${p.minSize}`),
        cephPools(estate.servers, estate.ceph).map((p) => `${p.name} ${p.rule} ${p.size}/${p.minSize}`),
      );
    }
    // An estate the rules reject (replicas above the hosts of a class) is reported there, with the key.
    const prod = estateOf("prod");
    assert.throws(() => cephPlanFor({ ...prod, servers: prod.servers.filter((s) => !s.roles.includes("ceph-mon")) }));
  });

  it("hostile inventory text stays data: quotes, $( ), backticks come back verbatim", () => {
    const hostile = `osd-1'$(touch /tmp/pwned)\`id\`"x`;
    const base = cephConfigureInputFor(estateOf("prod"));
    const input: CephConfigureInput = {
      ...base,
      osdDisks: [{ ...base.osdDisks[0], host: hostile, serial: "a b;c" }, ...base.osdDisks.slice(1)],
    };
    const out = bash(
      `${dataBlock(renderCephConfigure(input))}\nprintf '%s\\n' "\${disk_hosts[0]}" "\${disk_serials[0]}"`,
    );
    assert.equal(out, `${hostile}\na b;c\n`);
  });
});

describe("ceph OSD-to-disk mapping (the script's jq program)", () => {
  before(() => requireTool("jq", "jq"));

  const disks = [
    { host: "osd-1", class: "nvme", serial: "S64N0", path: "/dev/disk/by-id/nvme-M_S64N0" },
    { host: "osd-1", class: "hdd", serial: "ZL2H0", path: "/dev/disk/by-id/ata-ST_ZL2H0" },
    { host: "osd-1", class: "ssd", serial: "", path: "/dev/disk/by-path/pci-0000:3b:00.0-sas-phy2-lun-0" },
    { host: "osd-2", class: "nvme", serial: "S64N9", path: "/dev/disk/by-id/nvme-M_S64N9" },
    { host: "osd-3", class: "nvme", serial: "", path: "/dev/disk/by-id/nvme-M_X" },
    { host: "osd-3", class: "hdd", serial: "", path: "/dev/disk/by-id/ata-ST_Y" },
  ];
  const tree = {
    nodes: [
      { id: -1, name: "default", type: "root", children: [-2, -3, -4, -5] },
      { id: -2, name: "osd-1", type: "host", children: [0, 1, 2, 3] },
      { id: -3, name: "osd-2", type: "host", children: [4] },
      { id: -4, name: "osd-3", type: "host", children: [5, 6, 8] },
      { id: -5, name: "other", type: "host", children: [7] },
      ...[0, 1, 2, 3, 4, 5, 6, 7, 8].map((id) => ({ id, name: `osd.${id}`, type: "osd", device_class: "ssd" })),
    ],
  };
  const metadata = [
    { id: 0, device_ids: "nvme0n1=SAMSUNG_M_S64N0", rotational: "0" }, // serial
    { id: 1, device_ids: "sda=ATA_ST_ZL2H0", rotational: "0" }, // serial beats a wrong rotational flag
    { id: 2, devices: "sdc", device_paths: "sdc=/dev/disk/by-path/pci-0000:3b:00.0-sas-phy2-lun-0", rotational: "0" }, // path
    { id: 3, devices: "dm-3", rotational: "0" }, // osd-1 has nvme and ssd: cannot tell
    { id: 4, devices: "loop0", rotational: "1" }, // single-class host
    { id: 5, devices: "loop1", rotational: "0" }, // rotational: the one flash class
    { id: 6, devices: "loop2", rotational: "1" }, // rotational: hdd
    { id: 7, devices: "loop3", rotational: "1" }, // not a model host: left alone
    // osd.8 on mixed osd-3 never booted: no metadata, mapped by a later run
  ];

  it("maps by serial, by stable path, by single-class host, by rotational flag; reports the rest", () => {
    const args = (name: string, field: keyof (typeof disks)[number]): string[] => [
      "--argjson",
      name,
      JSON.stringify(disks.map((d) => d[field])),
    ];
    const r = spawnSync(
      "jq",
      [
        "-r",
        "-s",
        ...args("hosts", "host"),
        ...args("classes", "class"),
        ...args("serials", "serial"),
        ...args("paths", "path"),
        JQ_CLASS_PLAN,
      ],
      { encoding: "utf8", input: `${JSON.stringify(tree)}\n${JSON.stringify(metadata)}\n` },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      "0\tosd-1\tssd\tnvme\tdisk",
      "1\tosd-1\tssd\thdd\tdisk",
      "2\tosd-1\tssd\tssd\tdisk",
      "3\tosd-1\tssd\t-\tunmapped",
      "4\tosd-2\tssd\tnvme\thost",
      "5\tosd-3\tssd\tnvme\trotational",
      "6\tosd-3\tssd\thdd\trotational",
      "8\tosd-3\tssd\t-\tbooting",
    ]);
  });
});

describe("ceph read-keys script", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "estate-ceph-keys-"));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it("prints the CSI key and the S3 keys as one JSON object, and nothing else", () => {
    requireTool("jq", "jq");
    const input = cephConfigureInputFor(estateOf("prod"));
    const bin = path.join(tmp, "bin");
    fs.mkdirSync(bin);
    // Stand-ins answering with the shapes (and the stderr chatter) Ceph prints; they record their arguments.
    fs.writeFileSync(
      path.join(bin, "ceph"),
      `#!/bin/sh\necho "$*" >>"${tmp}/args"\necho 'exported keyring for client.kubernetes' >&2\necho '[{"entity":"client.kubernetes","key":"AQBkZXZ0ZXN0a2V5MDAwMDAwMDAwMDAwMDAwMDA=","caps":{"mon":"profile rbd"}}]'\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(
      path.join(bin, "radosgw-admin"),
      `#!/bin/sh\necho "$*" >>"${tmp}/args"\necho '{"user_id":"${input.rgw!.user}","keys":[{"user":"${input.rgw!.user}","access_key":"AK0123456789ABCDEFGH","secret_key":"SK0123456789abcdefghijklmnopqrstuvwxyzAB"}]}'\n`,
      { mode: 0o755 },
    );
    const r = spawnSync("bash", ["-s"], {
      input: renderCephReadKeys(input),
      encoding: "utf8",
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.deepEqual(JSON.parse(r.stdout), {
      csiClient: "client.kubernetes",
      csiKey: "AQBkZXZ0ZXN0a2V5MDAwMDAwMDAwMDAwMDAwMDA=",
      s3User: input.rgw!.user,
      s3AccessKey: "AK0123456789ABCDEFGH",
      s3SecretKey: "SK0123456789abcdefghijklmnopqrstuvwxyzAB",
    });
    assert.equal(
      fs.readFileSync(path.join(tmp, "args"), "utf8"),
      `auth get client.kubernetes -f json\nuser info --uid=${input.rgw!.user}\n`,
    );
  });
});
