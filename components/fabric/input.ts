/**
 * From the estate model and the fabric plan to the FRR renderer's input: the one place
 * that reads config for a node's frr.conf. `render.ts` takes only this input.
 */
import type { Estate } from "../../config/model";
import { type FabricPlan, sessionsOf } from "./plan";
import type { FrrInput } from "./render";

export function frrInputFor(plan: FabricPlan, estate: Pick<Estate, "pools" | "fabric">, node: string): FrrInput {
  const n = plan.nodes.find((x) => x.name === node);
  if (!n) throw new Error(`fabric: ${node} is not a node of the fabric plan`);
  const p = estate.pools;
  return {
    name: n.name,
    kind: n.kind,
    asn: n.asn,
    loopback: n.loopback,
    sessions: sessionsOf(plan, node).map((s) => {
      const peer = plan.nodes.find((x) => x.name === s.peer);
      return peer?.kind === "server" ? { ...s, serverLoopback: peer.loopback } : s;
    }),
    bfd: { intervalMs: estate.fabric.bfd.intervalMs, multiplier: estate.fabric.bfd.multiplier },
    maximumPaths: estate.fabric.maximumPaths,
    loopbackPool: p.loopbacks,
    ownPrefixes: [p.frontend, p.podCidr, p.serviceCidr],
  };
}
