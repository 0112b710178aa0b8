/**
 * From the estate model to the Ceph configuration renderer's input: the one place that
 * reads the model for it. `render.ts` takes only this input.
 *
 * Tiers: `hot` takes the fastest flash class that carries OSDs (nvme, else ssd), `warm`
 * takes hdd. A CRUSH rule takes one class, so an estate with both nvme and ssd OSDs puts only
 * its nvme in the hot tier (its ssd OSDs carry no model pool). Each tier present gets a rule
 * and an RBD pool for Kubernetes volumes (`kube-hot`, `kube-warm`) with the model's
 * `ceph.replicas`/`ceph.minSize`. Every other pool (the manager's, RGW's, new ones) goes onto
 * the warm rule when there is one (bulk and cold data belongs on hdd), else the hot rule.
 */
import { cephPools } from "../../config/allocate";
import type { Estate, Server } from "../../config/model";
import { EXPORTERS } from "../monitoring/conventions";
import type { CephConfigureInput, CephDeviceClass, CephOsdDisk, CephPool, CephRule } from "./render";

/** RGW's S3 port on the RGW hosts' loopbacks (Ceph's default beast port). */
export const CEPH_RGW_PORT = 7480;
/** pg_num a pool is created with; the autoscaler owns it afterwards. */
export const CEPH_INITIAL_PG_NUM = 32;
export const CEPH_CSI_CLIENT = "client.kubernetes";

export interface CephTier {
  readonly rule: string;
  readonly pool: string;
  readonly deviceClass: CephDeviceClass;
}

/** Everything the Ceph configuration needs from the model, and where its endpoints are. */
export interface CephPlan {
  readonly configure: CephConfigureInput;
  /** The first `ceph-mon` host: the script and the key reader run there. */
  readonly configureHost: string;
  /** The tiers present, hot first. */
  readonly tiers: readonly CephTier[];
  /** RGW S3 endpoints (host, address, port); empty without `ceph-rgw` hosts. */
  readonly rgwEndpoints: readonly { readonly host: string; readonly address: string; readonly port: number }[];
}

function withRole(estate: Pick<Estate, "servers">, role: Server["roles"][number]): readonly Server[] {
  return estate.servers.filter((s) => s.roles.includes(role));
}

/** The model's OSD disks: `use: osd` disks of `ceph-osd` servers. */
export function cephOsdDisks(estate: Pick<Estate, "servers">): readonly CephOsdDisk[] {
  return withRole(estate, "ceph-osd").flatMap((s) =>
    s.hardware.disks
      .filter((d) => d.use === "osd")
      .map((d) => ({ host: s.name, deviceClass: d.class, path: d.path, serial: d.serial ?? "" })),
  );
}

/** How many distinct hosts carry an OSD of `deviceClass`. */
export function hostsWithClass(disks: readonly CephOsdDisk[], deviceClass: CephDeviceClass): number {
  return new Set(disks.filter((d) => d.deviceClass === deviceClass).map((d) => d.host)).size;
}

export function cephPlanFor(estate: Pick<Estate, "servers" | "ceph">): CephPlan {
  const disks = cephOsdDisks(estate);
  // The tiers and their pools: one derivation with the Ceph rules (config/allocate.ts),
  // which have already rejected every estate these assertions guard against.
  const tiers: CephTier[] = cephPools(estate.servers, estate.ceph).map((p) => ({
    rule: p.rule,
    pool: p.name,
    deviceClass: p.deviceClass,
  }));
  const mons = withRole(estate, "ceph-mon");
  const mgrs = withRole(estate, "ceph-mgr");
  const rgwHosts = withRole(estate, "ceph-rgw");
  const cold = estate.ceph.coldTier;
  if (tiers.length === 0 || mons.length === 0 || mgrs.length === 0 || (cold.enabled && rgwHosts.length === 0))
    throw new Error("cephPlanFor: the estate has not passed the Ceph rules (config/rules/ceph.ts)");

  const rules: CephRule[] = tiers.map((t) => ({ name: t.rule, deviceClass: t.deviceClass }));
  const pools: CephPool[] = tiers.map((t) => ({
    name: t.pool,
    rule: t.rule,
    size: estate.ceph.replicas,
    minSize: estate.ceph.minSize,
    pgNum: CEPH_INITIAL_PG_NUM,
  }));
  const rgwEndpoints = rgwHosts.map((s) => ({ host: s.name, address: s.loopback, port: CEPH_RGW_PORT }));
  return {
    configure: {
      crushRoot: "default",
      rules,
      pools,
      defaultRule: tiers[tiers.length - 1].rule,
      deleteRemovedPools: estate.ceph.allowDataDeletion,
      osdDisks: disks,
      csi: { client: CEPH_CSI_CLIENT, pools: pools.map((p) => p.name) },
      prometheus: {
        // The mgr prometheus module's port: Ceph's default, and what the ScrapeConfigs dial.
        port: EXPORTERS.ceph.port,
        managers: mgrs.map((s) => ({ host: s.name, address: s.loopback })),
      },
      rgw: cold.enabled
        ? {
            user: cold.user,
            displayName: "estate backups and cold tier",
            bucket: cold.bucket,
            endpoint: { address: rgwEndpoints[0].address, port: rgwEndpoints[0].port },
          }
        : undefined,
    },
    configureHost: mons[0].name,
    tiers,
    rgwEndpoints,
  };
}

/** The input of `renderCephConfigure` for an estate. */
export function cephConfigureInputFor(estate: Pick<Estate, "servers" | "ceph">): CephConfigureInput {
  return cephPlanFor(estate).configure;
}
