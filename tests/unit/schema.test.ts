/**
 * Field-level rules of the schema (config/schema.ts, config/hostkey.ts): each free-text
 * field has the alphabet its real values use and a length limit, numbers that reach
 * scripts are whole, speeds are Ethernet speeds, anything shaped like an IPv4 address is
 * a valid one, and a host key is exactly one key. Each case breaks one field of the
 * committed dev stack and asserts the line an operator reads.
 */
import { strict as assert } from "assert";
import { z } from "zod";
import { ConfigKeys, ETHERNET_GBPS, isTimeServer } from "../../config/schema";
import { hostKeyProblem } from "../../config/hostkey";
import { unwrap } from "../../config/problems";
import { edit, problems, rawConfig } from "../helpers/config";

const dev = rawConfig("dev");
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHlujEs7kcGbMelum6Heraf3kqcxJbURDJJC/Hpx4wav";

/** The one problem of `raw`, which must name `key`. */
function onlyProblem(raw: ReturnType<typeof rawConfig>, key: string): string {
  const lines = problems(raw);
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.ok(lines[0].startsWith(`estate:${key}: `), lines[0]);
  return lines[0];
}

/** Every string schema inside `schema`, with its key path. */
function stringFields(schema: z.ZodType, at: string): [string, z.ZodType][] {
  const s = unwrap(schema);
  if (s instanceof z.ZodString) return [[at, schema]];
  if (s instanceof z.ZodArray) return stringFields(s.element as z.ZodType, `${at}[]`);
  if (s instanceof z.ZodObject)
    return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([k, v]) => stringFields(v, `${at}.${k}`));
  return [];
}

describe("schema: field alphabets, lengths and numbers", () => {
  it("every string field of every key has an alphabet and a length limit", () => {
    const fields = Object.entries(ConfigKeys).flatMap(([k, v]) => stringFields(v as z.ZodType, k));
    console.log(`      figure schema.string_fields ${fields.length} fields`);
    assert.ok(fields.length > 30, `${fields.length} string fields`);
    const open = fields
      .filter(
        ([, schema]) =>
          schema.safeParse("a".repeat(5000)).success ||
          schema.safeParse("a$(id)").success ||
          schema.safeParse("a b").success ||
          schema.safeParse("a\nb").success,
      )
      .map(([at]) => at);
    assert.deepEqual(open, []);
  });

  describe("time servers", () => {
    const TIME_RULE =
      "must be an IPv4 address (four numbers 0-255) or a DNS name whose last label has a letter; write it like 10.10.0.250 or ntp1.example.net";

    for (const bad of ["10.10.0.256", "10.10.0", "10.10.0.1.1", "010.10.0.1", "999", "ntp.example.123", "a..b", "-ntp"])
      it(`rejects ${JSON.stringify(bad)}`, () => {
        const raw = edit(dev, "site", (x) => void (x.timeServers = [bad]));
        assert.deepEqual(problems(raw), [`estate:site.timeServers[0]: ${JSON.stringify(bad)} ${TIME_RULE}`]);
      });

    it("accepts addresses and names", () => {
      for (const ok of ["10.110.0.250", "0.0.0.0", "ntp1.example.net", "NTP.Example.NET", "chrony", "time-1.a1"])
        assert.ok(isTimeServer(ok), ok);
      const raw = edit(dev, "site", (x) => void (x.timeServers = ["10.110.0.250", "ntp1.example.net"]));
      assert.deepEqual(problems(raw), []);
    });

    it("bounds the list and each name", () => {
      assert.equal(isTimeServer(`${"a".repeat(63)}.`.repeat(4) + "net"), false, "longer than 253 characters");
      const raw = edit(dev, "site", (x) => void (x.timeServers = Array.from({ length: 17 }, (_, i) => `ntp${i}.net`)));
      onlyProblem(raw, "site.timeServers");
    });
  });

  describe("host keys", () => {
    it("accepts exactly one key", () => assert.equal(hostKeyProblem(KEY), undefined));

    for (const [what, bad] of [
      ["a trailing comment", `${KEY} root@node-1`],
      ["a trailing newline", `${KEY}\n`],
      ["a leading space", ` ${KEY}`],
      ["a host name in front", `10.110.0.2 ${KEY}`],
      ["two keys", `${KEY}\n${KEY}`],
      ["two spaces", KEY.replace(" ", "  ")],
    ])
      it(`rejects a key with ${what}`, () => {
        const raw = edit(dev, "switches", (s) => void (s[0].hostKey = bad));
        const line = onlyProblem(raw, "switches[0].hostKey");
        assert.match(
          line,
          / must be exactly one host public key '<type> <base64>', one space between them and nothing before or after; paste exactly one line of `ssh-keyscan -t ed25519 <host>` without the host name$/,
        );
      });

    it("rejects an unknown type and a very long value, each with its fix", () => {
      assert.equal(
        hostKeyProblem(KEY.replace("ssh-ed25519", "ssh-dss")),
        "has key type 'ssh-dss', which is not one of ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa; paste exactly one line of `ssh-keyscan -t ed25519 <host>` without the host name",
      );
      assert.match(hostKeyProblem(`ssh-rsa ${"A".repeat(5000)}`)!, /^is longer than 4096 characters, .*; paste/);
    });
  });

  describe("speeds: the Ethernet set", () => {
    const SPEED_RULE = `must be an Ethernet speed in Gb/s; use one of ${ETHERNET_GBPS.join(", ")}`;

    for (const bad of [3, 0.5, 100.5, 1000, 0])
      it(`rejects a NIC at ${bad} Gb/s`, () => {
        const raw = edit(dev, "servers", (s) => void (s[0].hardware.nics[2].speedGbps = bad));
        assert.deepEqual(problems(raw), [`estate:servers[0].hardware.nics[2].speedGbps: ${bad} ${SPEED_RULE}`]);
      });

    it("rejects a switch link at 37 Gb/s", () => {
      const raw = edit(dev, "switches", (s) => void (s[1].uplinks[0].speedGbps = 37));
      assert.ok(
        problems(raw).includes(`estate:switches[1].uplinks[0].speedGbps: 37 ${SPEED_RULE}`),
        problems(raw).join("\n"),
      );
    });

    it("accepts 2.5 Gb/s, which is 2500 Mb/s in scripts", () => {
      const raw = edit(dev, "servers", (s) => void (s[0].hardware.nics[2].speedGbps = 2.5));
      assert.deepEqual(problems(raw), []);
    });
  });

  describe("numbers that reach scripts are whole", () => {
    it("rejects a fractional disk size", () => {
      onlyProblem(
        edit(dev, "servers", (s) => void (s[0].hardware.disks[0].sizeGB = 480.5)),
        "servers[0].hardware.disks[0].sizeGB",
      );
    });
    it("rejects a fractional memory tolerance", () => {
      onlyProblem(
        edit(dev, "node", (n) => void (n.memoryTolerancePercent = 6.5)),
        "node.memoryTolerancePercent",
      );
    });
    it("rejects an ASN beyond 4 bytes", () => {
      onlyProblem(
        edit(dev, "servers", (s) => void (s[0].asn = 2 ** 32)),
        "servers[0].asn",
      );
    });
  });

  describe("free text: alphabet and length", () => {
    it("a disk serial: letters, digits, '.', '_', '-' and at most 64 characters", () => {
      for (const bad of ["x|1|a[$(id>/tmp/p)]", "S6 SRV", "S6'SRV", "a".repeat(65), ""]) {
        const raw = edit(dev, "servers", (s) => void (s[0].hardware.disks[0].serial = bad));
        const line = onlyProblem(raw, "servers[0].hardware.disks[0].serial");
        assert.ok(
          line.endsWith(
            " must be a drive serial number (letters, digits, '.', '_', '-', at most 64 characters); copy it from lsblk -d -n -o SERIAL",
          ),
          line,
        );
      }
      assert.deepEqual(
        problems(edit(dev, "servers", (s) => void (s[0].hardware.disks[0].serial = "S6SRV1OS-01_a.b"))),
        [],
      );
    });

    it("a disk path: no '..', no spaces, bounded", () => {
      for (const bad of ["/dev/disk/by-id/..", "/dev/disk/by-id/a b", `/dev/disk/by-id/${"a".repeat(201)}`])
        onlyProblem(
          edit(dev, "servers", (s) => void (s[0].hardware.disks[0].path = bad)),
          "servers[0].hardware.disks[0].path",
        );
    });

    it("a time zone: the zoneinfo name, in its case", () => {
      for (const bad of ["europe/berlin", "../../etc/passwd", "Europe/Berlin ", "+01:00"])
        onlyProblem(
          edit(dev, "site", (x) => void (x.timezone = bad)),
          "site.timezone",
        );
      for (const ok of ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5"])
        assert.deepEqual(problems(edit(dev, "site", (x) => void (x.timezone = ok))), [], ok);
    });

    it("a domain: lower-case labels, a letter TLD, at most 253 characters", () => {
      for (const bad of ["estate", "Estate.Internal", "a_b.internal", `${"a".repeat(63)}.`.repeat(4) + "internal"])
        onlyProblem(
          edit(dev, "site", (x) => void (x.domain = bad)),
          "site.domain",
        );
    });

    it("packages, users and versions", () => {
      onlyProblem(
        edit(dev, "node", (n) => void (n.extraPackages = ["htop;reboot"])),
        "node.extraPackages[0]",
      );
      onlyProblem(
        edit(dev, "node", (n) => void (n.extraPackages = ["a".repeat(65)])),
        "node.extraPackages[0]",
      );
      onlyProblem(
        edit(dev, "ssh", (x) => void (x.user = "root$(id)")),
        "ssh.user",
      );
      onlyProblem(
        edit(dev, "versions", (v) => void (v.istio = `1.30.${"3".repeat(30)}`)),
        "versions.istio",
      );
    });
  });
});
