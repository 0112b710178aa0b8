/**
 * Ceph: a monitor quorum, managers, OSD hosts that keep an OS disk and have OSD devices,
 * and replica counts the OSD hosts can hold.
 */
import type { Problems } from "../problems";
import { quorum } from "./kubernetes";
import type { RuleInput } from ".";

export function cephRules({ config }: RuleInput, problems: Problems): void {
  const { servers, ceph } = config;
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
  const osdHosts = servers.filter((s) => s.roles.includes("ceph-osd")).length;
  if (ceph.replicas > osdHosts)
    problems.add(
      "ceph.replicas",
      `${ceph.replicas} is more than the ${osdHosts} OSD host(s); Ceph places one replica per host, so use at most ${osdHosts}`,
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
