/**
 * The fabric: spines and leaves cabled correctly, every server on at least two leaves,
 * ports used once, ASNs private and distinct across tiers (RFC 7938), the /31 pool large
 * enough, and warnings for oversubscribed leaves and uneven server uplinks.
 */
import {
  fabricLinkCounts,
  fabricLinkRegions,
  isPrivateAsn,
  leafOversubscription,
  poolSize,
  serverAsns,
  switchAsns,
  uplinksWithSpeed,
} from "../allocate";
import { nameList, type Problems, show } from "../problems";
import { isCidr } from "../schema";
import type { RuleInput } from ".";

export function fabricRules({ config }: RuleInput, problems: Problems): void {
  const { switches, servers, fabric, pools } = config;
  if (!switches) return;
  const spines = switches.filter((s) => s.role === "spine");
  const leaves = switches.filter((s) => s.role === "leaf");
  const switchByName = new Map(switches.map((s) => [s.name, s]));
  const portUse = new Map<string, string>(); // "switch/port" -> who uses it
  const usePort = (sw: string, port: string, path: string, who: string): void => {
    const k = `${sw}/${port}`;
    const prev = portUse.get(k);
    if (prev) problems.add(path, `${show(port)} on ${sw} is already cabled to ${prev}; use a free port`);
    else portUse.set(k, who);
  };

  // Switches: spines in no rack, leaves in a rack and cabled to every spine (parallel links allowed).
  if (spines.length === 0) problems.add("switches", "has no spine; add at least one switch with role 'spine'");
  if (leaves.length === 0) problems.add("switches", "has no leaf; add at least one switch with role 'leaf'");
  switches.forEach((sw, i) => {
    const path = `switches[${i}]`;
    if (sw.role === "spine") {
      if (sw.rack)
        problems.add(`${path}.rack`, `${show(sw.rack)} is set on a spine; spines belong to no rack, remove it`);
      if (sw.uplinks.length)
        problems.add(`${path}.uplinks`, "is set on a spine; cable spines from the leaves' uplinks instead");
      return;
    }
    if (!sw.rack) problems.add(`${path}.rack`, "is required on a leaf; name the rack the leaf serves");
    if (sw.uplinks.length === 0)
      problems.add(`${path}.uplinks`, `leaf ${sw.name} has no uplinks; cable it to every spine`);
    const seenSpines = new Set<string>();
    sw.uplinks.forEach((u, j) => {
      const up = `${path}.uplinks[${j}]`;
      const target = switchByName.get(u.spine);
      if (!target) {
        problems.add(
          `${up}.spine`,
          `${show(u.spine)} is not a switch in estate:switches; name one of ${nameList(spines.map((s) => s.name)) || "(no spines)"}`,
        );
        return;
      }
      if (target.role !== "spine") {
        problems.add(`${up}.spine`, `${show(u.spine)} is a ${target.role}, not a spine; leaves uplink to spines only`);
        return;
      }
      seenSpines.add(u.spine);
      usePort(sw.name, u.port, `${up}.port`, `${sw.name} uplink to ${u.spine}`);
      usePort(u.spine, u.spinePort, `${up}.spinePort`, `${sw.name}`);
    });
    for (const s of spines)
      if (sw.uplinks.length && !seenSpines.has(s.name))
        problems.add(
          `${path}.uplinks`,
          `leaf ${sw.name} has no link to spine ${s.name}; cable every leaf to every spine`,
        );
  });

  if (!servers) return;

  // Servers: at least two different leaves (more links per leaf are fine), NICs they have.
  servers.forEach((s, i) => {
    const path = `servers[${i}]`;
    const nics = new Set(s.hardware.nics.map((n) => n.name));
    const leavesUsed = new Set<string>();
    s.uplinks.forEach((u, j) => {
      const up = `${path}.uplinks[${j}]`;
      const leaf = switchByName.get(u.leaf);
      if (!leaf)
        problems.add(
          `${up}.leaf`,
          `${show(u.leaf)} is not a switch in estate:switches; name one of ${nameList(leaves.map((l) => l.name))}`,
        );
      else if (leaf.role !== "leaf")
        problems.add(`${up}.leaf`, `${show(u.leaf)} is a spine; servers are cabled to leaves only`);
      else {
        leavesUsed.add(u.leaf);
        usePort(u.leaf, u.port, `${up}.port`, s.name);
      }
      if (!nics.has(u.nic))
        problems.add(`${up}.nic`, `${show(u.nic)} is not in ${path}.hardware.nics; name one of ${nameList([...nics])}`);
    });
    // At least two different leaves; more links to one leaf are fine (ECMP over all of them).
    if (s.uplinks.length < 2)
      problems.add(
        `${path}.uplinks`,
        `has ${s.uplinks.length} uplink(s); cable every server to at least two leaves so that losing a leaf loses no server`,
      );
    else if (leavesUsed.size === 1 && s.uplinks.every((u) => switchByName.get(u.leaf)?.role === "leaf")) {
      const j = s.uplinks.length - 1;
      problems.add(
        `${path}.uplinks[${j}].leaf`,
        `${show(s.uplinks[j].leaf)} is the leaf of every other uplink too; cable every server to at least two different leaves so that losing a leaf loses no server`,
      );
    }
    const seenNic = new Map<string, number>();
    s.uplinks.forEach((u, j) => {
      const first = seenNic.get(u.nic);
      if (first !== undefined)
        problems.add(`${path}.uplinks[${j}].nic`, `${show(u.nic)} already carries uplinks[${first}]; one link per NIC`);
      else seenNic.set(u.nic, j);
    });
    // ECMP splits flows evenly over the uplinks: uneven speeds waste the faster links.
    const speeds = new Set(
      uplinksWithSpeed(s)
        .map((u) => u.speedGbps)
        .filter((g) => g > 0),
    );
    if (speeds.size > 1)
      problems.warn(
        `${path}.uplinks`,
        `${s.name}'s uplinks run at ${[...speeds].sort((a, b) => a - b).join(", ")} Gb/s; ECMP splits flows evenly, so use one speed for all uplinks`,
      );
  });

  if (!fabric) return;
  asnRules(switches, servers, fabric.asns, problems);

  // Oversubscription per leaf (server-facing : spine-facing capacity): a warning, not an error.
  const routed = servers.map((s) => ({ uplinks: uplinksWithSpeed(s) }));
  switches.forEach((sw, i) => {
    if (sw.role !== "leaf" || sw.uplinks.length === 0) return;
    const o = leafOversubscription(sw, routed);
    if (o.ratio > fabric.oversubscriptionLimit)
      problems.warn(
        `switches[${i}].uplinks`,
        `leaf ${sw.name} is oversubscribed ${o.ratio}:1 (${o.serverGbps} Gb/s to servers, ${o.spineGbps} Gb/s to spines), ` +
          `above fabric.oversubscriptionLimit ${fabric.oversubscriptionLimit}; add spine uplinks or raise the limit`,
      );
  });

  // The /31 pool of a numbered fabric.
  if (fabric.numbered && pools) {
    const counts = fabricLinkCounts(leaves, servers);
    const links = counts.switches + counts.servers;
    if (!pools.fabricLinks)
      problems.add("pools.fabricLinks", "is required when fabric.numbered is true; give a pool for the /31 links");
    else if (isCidr(pools.fabricLinks)) {
      const regions = fabricLinkRegions(pools.fabricLinks);
      if (poolSize(pools.fabricLinks) < links * 2)
        problems.add(
          "pools.fabricLinks",
          `${show(pools.fabricLinks)} holds ${poolSize(pools.fabricLinks) / 2} /31 links; the fabric has ${links}, use a larger pool`,
        );
      else if (counts.switches > regions.switches.capacity || counts.servers > regions.servers.capacity)
        problems.add(
          "pools.fabricLinks",
          `${show(pools.fabricLinks)} holds ${regions.switches.capacity} leaf-spine and ${regions.servers.capacity} server /31 links; ` +
            `the fabric has ${counts.switches} and ${counts.servers}, use a larger pool`,
        );
    }
  }
}

type Tier = "spine" | "leaf" | "server";

/**
 * ASNs: private; the spines share one; each leaf and each server its own; and no number
 * used by two tiers (a server on the spines' ASN brings its sessions up, then drops its
 * routes as a loop). A collision is reported once, at its cause: the pinned `asn`, or the
 * base that allocated it.
 */
function asnRules(
  switches: NonNullable<RuleInput["config"]["switches"]>,
  servers: NonNullable<RuleInput["config"]["servers"]>,
  asns: { spine: number; leafBase: number; serverBase: number },
  problems: Problems,
): void {
  const bases: [string, number][] = [
    ["fabric.asns.spine", asns.spine],
    ["fabric.asns.leafBase", asns.leafBase],
    ["fabric.asns.serverBase", asns.serverBase],
  ];
  const pinned: [string, number][] = [
    ...switches.flatMap((s, i): [string, number][] => (s.asn !== undefined ? [[`switches[${i}].asn`, s.asn]] : [])),
    ...servers.flatMap((s, i): [string, number][] => (s.asn !== undefined ? [[`servers[${i}].asn`, s.asn]] : [])),
  ];
  let outside = false;
  for (const [path, asn] of [...bases, ...pinned])
    if (!isPrivateAsn(asn)) {
      outside = true;
      problems.add(path, `${asn} is outside the private ASN ranges; use 64512-65534 or 4200000000-4294967294`);
    }
  const lastServerAsn = asns.serverBase + servers.length - 1;
  if (isPrivateAsn(asns.serverBase) && !isPrivateAsn(lastServerAsn))
    problems.add(
      "fabric.asns.serverBase",
      `${asns.serverBase} leaves no room for ${servers.length} server ASNs in the private range; lower it`,
    );
  if (outside) return;

  const switchAsn = switchAsns(switches, asns);
  const serverAsn = serverAsns(servers, asns.serverBase);
  interface Owner {
    readonly name: string;
    readonly tier: Tier;
    /** Where the number comes from. */
    readonly cause: string;
    readonly pinned: boolean;
  }
  const entries: { asn: number; owner: Owner }[] = [
    ...switches.map((s, i) => ({
      asn: switchAsn[i],
      owner: {
        name: s.name,
        tier: s.role as Tier,
        cause:
          s.asn !== undefined
            ? `switches[${i}].asn`
            : s.role === "spine"
              ? "fabric.asns.spine"
              : "fabric.asns.leafBase",
        pinned: s.asn !== undefined,
      },
    })),
    ...servers.map((s, i) => ({
      asn: serverAsn[i],
      owner: {
        name: s.name,
        tier: "server" as Tier,
        cause: s.asn !== undefined ? `servers[${i}].asn` : "fabric.asns.serverBase",
        pinned: s.asn !== undefined,
      },
    })),
  ];

  const spineAsns = new Set(entries.filter((e) => e.owner.tier === "spine").map((e) => e.asn));
  if (spineAsns.size > 1)
    problems.add("switches", `spines use ASNs ${[...spineAsns].join(", ")}; all spines share one ASN (RFC 7938)`);

  const byAsn = new Map<number, Owner[]>();
  for (const e of entries) byAsn.set(e.asn, [...(byAsn.get(e.asn) ?? []), e.owner]);
  const reportedBases = new Set<string>();
  for (const [asn, owners] of byAsn) {
    const first = owners[0];
    for (const o of owners.slice(1)) {
      if (o.tier === "spine" && first.tier === "spine") continue; // the spines share theirs
      // The cause: a pinned number over an allocated one; else the later entry's own source.
      const [cause, other] = !o.pinned && first.pinned ? [first, o] : [o, first];
      // Two allocations from overlapping bases collide many times: one line per base.
      if (!cause.pinned) {
        if (reportedBases.has(cause.cause)) continue;
        reportedBases.add(cause.cause);
      }
      problems.add(cause.cause, collision(asn, cause, other));
    }
  }
}

function collision(asn: number, cause: { name: string; tier: Tier }, other: { name: string; tier: Tier }): string {
  if (cause.tier === other.tier)
    return cause.tier === "leaf"
      ? `${asn} is already used by ${other.name}; each leaf needs its own ASN`
      : `${asn} is already the ASN of server ${other.name}; each server needs its own ASN`;
  if (cause.tier === "spine")
    return `${asn} is also the ASN of ${other.tier} ${other.name}; give the spines an ASN that no leaf or server uses`;
  if (other.tier === "spine")
    return `${asn} is the spines' ASN; ${cause.tier} ${cause.name} needs its own ASN for eBGP to the spines`;
  return `${asn} is also the ASN of ${other.tier} ${other.name}; leaves and servers need distinct ASNs`;
}
