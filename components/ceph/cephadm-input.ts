/** The cephadm renderers' input, derived from the estate model. */
import type { Estate } from "../../config/model";
import type { CephadmInput, CephHost } from "./cephadm";

/** The S3 port of the RGW daemons on their hosts' loopbacks. */
export const RGW_PORT = 7480;

const LABELS: Readonly<Record<string, string>> = {
  "ceph-mon": "mon",
  "ceph-mgr": "mgr",
  "ceph-osd": "osd",
  "ceph-rgw": "rgw",
};

/** The Ceph hosts of the estate, in stack-file order. */
export function cephHostsOf(estate: Pick<Estate, "servers">): CephHost[] {
  return estate.servers
    .filter((s) => s.roles.some((r) => r in LABELS))
    .map((s) => ({
      name: s.name,
      address: s.loopback,
      labels: s.roles.filter((r) => r in LABELS).map((r) => LABELS[r]),
      osdDevices: s.roles.includes("ceph-osd")
        ? s.hardware.disks.filter((d) => d.use === "osd").map((d) => ({ path: d.path, deviceClass: d.class }))
        : [],
    }));
}

/** `major.minor` of an image tag such as quay.io/ceph/ceph:v19.2.3. */
export function cephRelease(image: string): string {
  const m = /:v(\d+)\.(\d+)\.\d+$/.exec(image);
  if (!m) throw new Error(`cephRelease: ${image} has no vX.Y.Z tag`);
  return `${m[1]}.${m[2]}`;
}

export function cephadmInputFor(estate: Pick<Estate, "servers" | "pools" | "versions">): CephadmInput {
  const hosts = cephHostsOf(estate);
  const first = estate.servers.find((s) => s.roles.includes("ceph-mon"));
  if (!first) throw new Error("cephadmInputFor: the estate has no ceph-mon host");
  const rgwHosts = hosts.filter((h) => h.labels.includes("rgw")).map((h) => h.name);
  return {
    image: estate.versions.ceph,
    release: cephRelease(estate.versions.ceph),
    bootstrapHost: first.name,
    hosts,
    sshUser: first.ssh.user,
    publicNetwork: estate.pools.loopbacks,
    ...(rgwHosts.length ? { rgw: { hosts: rgwHosts, port: RGW_PORT } } : {}),
  };
}
