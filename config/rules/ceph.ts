/**
 * Ceph: a monitor quorum, managers, OSD hosts that keep an OS disk and have OSD devices,
 * and replica counts the OSD hosts can hold.
 */
import { cephPools } from "../allocate";
import type { Problems } from "../problems";
import { quorum } from "./kubernetes";
import type { RuleInput } from ".";

export function cephRules({ config }: RuleInput, problems: Problems): void {
  const { servers, ceph, ssh } = config;
  if (servers)
    servers.forEach((s, i) => {
      if (!s.roles.includes("ceph-osd")) return;
      const path = `servers[${i}]`;
      if (!s.hardware.disks.some((d) => d.use === "osd"))
        problems.add(
          `${path}.roles`,
          "has ceph-osd but no disk with use 'osd'; list the raw OSD devices in hardware.disks",
        );
      if (!s.hardware.disks.some((d) => d.use === "os"))
        problems.add(
          `${path}.hardware.disks`,
          "has no disk with use 'os' on a ceph-osd host; list the OS disk so that no OSD spec can ever select it",
        );
    });
  if (!servers || !ceph) return;
  quorum(servers, "ceph-mon", ceph.highAvailability, "ceph", problems);
  const managers = servers.filter((s) => s.roles.includes("ceph-mgr")).length;
  const monitors = servers.filter((s) => s.roles.includes("ceph-mon")).length;
  if (monitors > 0 && managers === 0)
    problems.add("servers", "has ceph-mon but no server with role ceph-mgr; give the role ceph-mgr to a monitor host");
  else if (ceph.highAvailability && managers === 1)
    problems.add(
      "ceph.highAvailability",
      "is true but only 1 server has role ceph-mgr; add a standby manager (a second ceph-mgr) or set it to false",
    );
  // Replicas per pool: one per host that carries an OSD of the pool's class. Reported once,
  // at ceph.replicas, for the pool with the fewest hosts.
  const pools = cephPools(servers, ceph);
  const osdHosts = servers.filter((s) => s.roles.includes("ceph-osd")).length;
  const tightest = [...pools].sort((a, b) => a.hosts.length - b.hosts.length)[0];
  if (!tightest && ceph.replicas > osdHosts)
    problems.add(
      "ceph.replicas",
      `${ceph.replicas} is more than the ${osdHosts} OSD host(s); Ceph places one replica per host, so use at most ${osdHosts}`,
    );
  else if (tightest && ceph.replicas > tightest.hosts.length)
    problems.add(
      "ceph.replicas",
      `${ceph.replicas} is more than the ${tightest.hosts.length} host(s) with ${tightest.deviceClass} OSDs for pool ${tightest.name}; ` +
        `Ceph places one replica per host, so use at most ${tightest.hosts.length} or add ${tightest.deviceClass} OSD hosts`,
    );
  const nvmeAndSsd = ["nvme", "ssd"].every((c) =>
    servers.some((s) => s.roles.includes("ceph-osd") && s.hardware.disks.some((d) => d.use === "osd" && d.class === c)),
  );
  if (nvmeAndSsd)
    problems.warn(
      "servers",
      "have both nvme and ssd OSDs; the hot pool uses the nvme class only, so the ssd OSDs hold no pool (give them use 'spare' or class nvme)",
    );
  if (ceph.coldTier.enabled && !servers.some((s) => s.roles.includes("ceph-rgw")))
    problems.add(
      "ceph.coldTier.enabled",
      "is true but no server has role ceph-rgw; give the role ceph-rgw to a host for the S3 endpoint, or set it to false",
    );
  // cephadm logs in to every host as one user.
  const cephHosts = servers.flatMap((s, i) =>
    s.roles.some((r) => r.startsWith("ceph-")) ? [{ i, name: s.name, user: s.ssh?.user ?? ssh?.user }] : [],
  );
  const first = cephHosts[0];
  for (const h of cephHosts.slice(1))
    if (first && h.user !== first.user)
      problems.add(
        `servers[${h.i}].ssh.user`,
        `${JSON.stringify(h.user)} differs from ${first.name}'s ${JSON.stringify(first.user)}; cephadm logs in to every Ceph host as one user, so use one`,
      );
  if (ceph.minSize > ceph.replicas)
    problems.add(
      "ceph.minSize",
      `${ceph.minSize} is more than ceph.replicas (${ceph.replicas}); use at most ${ceph.replicas}`,
    );
  else if (ceph.replicas > 1 && ceph.minSize === ceph.replicas)
    problems.add(
      "ceph.minSize",
      `${ceph.minSize} equals ceph.replicas; one host down would stop every write, so use ${ceph.replicas - 1}`,
    );
  else if (ceph.replicas >= 3 && ceph.minSize < 2)
    problems.add("ceph.minSize", `${ceph.minSize} acknowledges writes held by one copy; use 2 with 3 replicas`);
}
