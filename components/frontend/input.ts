/**
 * From the estate model to the front tier's renderer input: the one place that reads
 * config for the balancers' files. `render.ts` takes only this input.
 */
import { prefixLength, vrrpPriorities } from "../../config/allocate";
import { isKubernetesNode } from "../../config/model";
import { apiStreamInputFor } from "../kubernetes/input";
import type { FrontTierInput } from "./render";

/** The subset of the estate model the front tier reads (structural, so tests can build it). */
export interface FrontTierModel {
  readonly pools: { readonly frontend: string };
  readonly frontend: {
    readonly vip: string;
    readonly vrid: number;
    readonly ports: { readonly https: number; readonly http: number };
  };
  readonly kubernetes: { readonly ingressNodePorts: { readonly http: number } };
  readonly servers: readonly {
    readonly name: string;
    readonly roles: readonly string[];
    readonly loopback: string;
    readonly frontend?: { readonly address: string; readonly nic: string };
  }[];
}

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Balancers sorted by name with priorities 150, 140, ...; every Kubernetes node as an upstream. */
export function frontTierInputFor(estate: FrontTierModel): FrontTierInput {
  const lbs = estate.servers.filter((s) => s.roles.includes("lb") && s.frontend).sort(byName);
  // The same priorities the frontend rules bound (config/allocate.ts).
  const priorities = vrrpPriorities(lbs.length);
  const balancers = lbs.map((s, i) => ({
    name: s.name,
    address: s.frontend!.address,
    nic: s.frontend!.nic,
    priority: priorities[i],
    loopback: s.loopback,
  }));
  const upstreams = estate.servers
    .filter(isKubernetesNode)
    .slice()
    .sort(byName)
    .map((s) => ({ name: s.name, address: s.loopback }));
  // The Kubernetes API endpoint: the balancers pass TCP 6443 on the VIP to every K3s server.
  const api = apiStreamInputFor(estate);
  return {
    vip: estate.frontend.vip,
    prefixLength: prefixLength(estate.pools.frontend),
    vrid: estate.frontend.vrid,
    ports: { https: estate.frontend.ports.https, http: estate.frontend.ports.http },
    balancers,
    upstreams,
    upstreamPort: estate.kubernetes.ingressNodePorts.http,
    ...(api.servers.length ? { apiEndpoint: api } : {}),
  };
}
