/**
 * From the estate model to the monitoring renderers' input: the one place that reads the
 * model for monitoring. `values.ts`, `scrape.ts` and `alertmanager.ts` take only these.
 */
import { monitoringReplicated } from "../../config/allocate";
import type { Estate } from "../../config/model";
import type { AlertmanagerInput } from "./alertmanager";
import { EXPORTERS, type ExporterJob } from "./conventions";
import type { ScrapeHost, ScrapeInput } from "./scrape";

/** The subset of the model monitoring reads. */
export type MonitoringModel = Pick<
  Estate,
  "servers" | "switches" | "kubernetes" | "monitoring" | "versions" | "site" | "frontend" | "pools"
>;

/**
 * The exporters a server runs, from its roles: the node and FRR exporters everywhere (the
 * fabric runs FRR on every server and switch: components/fabric), Nginx's on balancers,
 * the Ceph manager's module on manager hosts.
 */
export function serverJobs(roles: readonly string[]): ExporterJob[] {
  return [
    EXPORTERS.node.job,
    EXPORTERS.frr.job,
    ...(roles.includes("lb") ? [EXPORTERS.nginx.job] : []),
    ...(roles.includes("ceph-mgr") ? [EXPORTERS.ceph.job] : []),
  ];
}

/** Every host outside the cluster's pods: each server and switch, at its loopback. */
export function scrapeHostsOf(estate: Pick<Estate, "servers" | "switches">): ScrapeHost[] {
  return [
    ...estate.switches.map((s) => ({
      name: s.name,
      tier: s.role,
      ...(s.rack ? { rack: s.rack } : {}),
      address: s.loopback,
      jobs: [EXPORTERS.node.job, EXPORTERS.frr.job] as ExporterJob[],
    })),
    ...estate.servers.map((s) => ({
      name: s.name,
      tier: "server" as const,
      rack: s.rack,
      address: s.loopback,
      jobs: serverJobs(s.roles),
    })),
  ];
}

export function scrapeInputFor(estate: MonitoringModel, namespace: string): ScrapeInput {
  return { namespace, scrapeInterval: estate.monitoring.scrapeInterval, hosts: scrapeHostsOf(estate) };
}

/** Replicated as configured, else when the cluster is highly available and has three workload nodes. */
export function highAvailabilityOf(estate: Pick<Estate, "kubernetes" | "monitoring" | "servers">): boolean {
  return monitoringReplicated(estate.monitoring.highAvailability, estate.kubernetes.highAvailability, estate.servers);
}

export function alertmanagerInputFor(estate: Pick<Estate, "monitoring">): AlertmanagerInput {
  const am = estate.monitoring.alertmanager;
  return {
    receivers: am.receivers,
    ...(am.defaultReceiver !== undefined ? { defaultReceiver: am.defaultReceiver } : {}),
    routes: am.routes,
    groupWait: am.groupWait,
    groupInterval: am.groupInterval,
    repeatInterval: am.repeatInterval,
  };
}

/** The default StorageClass among the cluster's (exactly one is). */
export function defaultStorageClass(classes: readonly { readonly name: string; readonly default: boolean }[]): string {
  const d = classes.find((c) => c.default);
  if (!d) throw new Error("the cluster has no default StorageClass");
  return d.name;
}
