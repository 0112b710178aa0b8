/**
 * The inventory: every host and switch has its own name, management address and host
 * key; NICs, disks, roles and disk serials are listed once.
 */
import { inPool, isNetworkOrBroadcast } from "../allocate";
import { duplicates, type Problems, show } from "../problems";
import type { RuleInput } from ".";

export function inventoryRules({ config }: RuleInput, problems: Problems): void {
  const { pools, switches, servers } = config;
  if (switches && servers) {
    const nodes = [
      ...switches.map((s, i) => ({ path: `switches[${i}]`, name: s.name, mgmt: s.mgmtAddress, key: s.hostKey })),
      ...servers.map((s, i) => ({ path: `servers[${i}]`, name: s.name, mgmt: s.mgmtAddress, key: s.hostKey })),
    ];
    for (const [name, idx] of duplicates(nodes, (n) => n.name))
      for (const i of idx.slice(1))
        problems.add(
          `${nodes[i].path}.name`,
          `${show(name)} is already used by ${nodes[idx[0]].path}; every host and switch needs its own name`,
        );
    for (const [addr, idx] of duplicates(nodes, (n) => n.mgmt))
      for (const i of idx.slice(1))
        problems.add(
          `${nodes[i].path}.mgmtAddress`,
          `${show(addr)} is already used by ${nodes[idx[0]].name}; every host and switch needs its own address`,
        );
    // The same host key twice is a copy-paste mistake: SSH would trust one machine for both.
    for (const [, idx] of duplicates(nodes, (n) => n.key))
      for (const i of idx.slice(1))
        problems.add(
          `${nodes[i].path}.hostKey`,
          `is the host key of ${nodes[idx[0]].name} too; copy each host's own key (ssh-keyscan -t ed25519 <host>)`,
        );
    if (pools)
      for (const n of nodes) {
        if (!inPool(n.mgmt, pools.management))
          problems.add(
            `${n.path}.mgmtAddress`,
            `${show(n.mgmt)} is outside pools.management (${pools.management}); use an address inside it`,
          );
        else if (isNetworkOrBroadcast(n.mgmt, pools.management))
          problems.add(
            `${n.path}.mgmtAddress`,
            `${show(n.mgmt)} is the network or broadcast address of pools.management (${pools.management}); use a host address`,
          );
      }
  }

  if (!servers) return;
  servers.forEach((s, i) => {
    const path = `servers[${i}]`;
    for (const [nic, idx] of duplicates(s.hardware.nics, (n) => n.name))
      problems.add(`${path}.hardware.nics[${idx[1]}].name`, `${show(nic)} is listed twice; list each NIC once`);
    for (const [disk, idx] of duplicates(s.hardware.disks, (d) => d.path))
      problems.add(`${path}.hardware.disks[${idx[1]}].path`, `${show(disk)} is listed twice; list each disk once`);
    for (const [role, idx] of duplicates(s.roles, (r) => r))
      problems.add(`${path}.roles[${idx[1]}]`, `${show(role)} is listed twice; list each role once`);
  });
  const serials = servers.flatMap((s, i) =>
    s.hardware.disks.map((d, j) => ({
      path: `servers[${i}].hardware.disks[${j}].serial`,
      serial: d.serial,
      host: s.name,
    })),
  );
  for (const [serial, idx] of duplicates(serials, (d) => d.serial))
    for (const i of idx.slice(1))
      problems.add(
        serials[i].path,
        `${show(serial)} is already the serial of a disk on ${serials[idx[0]].host}; copy this drive's own serial (lsblk -d -o PATH,SERIAL)`,
      );
}
