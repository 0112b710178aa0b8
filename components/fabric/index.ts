/**
 * `estate:fabric:SpineLeafFabric`: the BGP/BFD fabric on every switch and routed server.
 *
 * Children per node (switch or server name, never a list position):
 *   `<name>-<node>-frr-daemons`  enables bgpd/bfdd (shell, `fabric/<node>/frr-daemons.sh`)
 *   `<name>-<node>-frr-conf`     /etc/frr/frr.conf: syntax-checked, reloaded (kind frr,
 *                                `fabric/<node>/frr.conf`), after the daemons step
 * A server's steps wait for its HardwareNode (baseline installs FRR). Switches roll: each
 * spine waits for the spine before it, each leaf for the leaf before it in its rack.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Estate } from "../../config/model";
import type { HardwareNode } from "../node";
import { connectionFor, remoteFile, remoteScript } from "../shared/remote";
import { type FabricOutput, type FabricPlan, fabricOutput, planFabric } from "./plan";
import { frrInputFor } from "./input";
import { FRR_CHECK, FRR_RELOAD, renderFrrConf, renderFrrDaemons } from "./render";

export * from "./plan";
export * from "./render";

export interface SpineLeafFabricArgs {
  /** The whole model: switches, servers, pools and fabric options. */
  readonly estate: Estate;
  /** The SSH private key (secret). */
  readonly privateKey: pulumi.Input<string>;
  /** The server components by server name; a server's FRR waits for its node to be ready. */
  readonly nodes: Readonly<Record<string, HardwareNode>>;
}

export class SpineLeafFabric extends pulumi.ComponentResource {
  /** The plan the configs were rendered from (plain data, known at preview). */
  public readonly plan: FabricPlan;
  /** The stack output `fabric`. */
  public readonly topology: pulumi.Output<FabricOutput>;

  constructor(name: string, args: SpineLeafFabricArgs, opts?: pulumi.ComponentResourceOptions) {
    super("estate:fabric:SpineLeafFabric", name, {}, opts);
    const { estate } = args;
    const plan = planFabric(estate);

    // Rolling changes: a switch waits for the one before it in its group (the spines; the
    // leaves of one rack), so a reload or restart never takes both spines, or both leaves
    // of a rack, down at once. Servers each affect only themselves.
    const groupOf = (s: (typeof estate.switches)[number]): string => (s.role === "spine" ? "spines" : `rack ${s.rack}`);
    const previousInGroup = new Map<string, string>();
    const lastOfGroup = new Map<string, string>();
    for (const s of estate.switches) {
      const prev = lastOfGroup.get(groupOf(s));
      if (prev) previousInGroup.set(s.name, prev);
      lastOfGroup.set(groupOf(s), s.name);
    }
    const applied = new Map<string, pulumi.Resource>();

    const hosts = [
      ...estate.switches.map((s) => ({ name: s.name, ssh: s.ssh, forwarding: true, node: undefined })),
      ...estate.servers.map((s) => ({ name: s.name, ssh: s.ssh, forwarding: false, node: args.nodes[s.name] })),
    ];
    for (const h of hosts) {
      if (!h.forwarding && !h.node) throw new Error(`SpineLeafFabric: no HardwareNode given for server ${h.name}`);
      const connection = connectionFor(h.ssh, args.privateKey);
      const daemons = remoteScript(
        `${name}-${h.name}-frr-daemons`,
        {
          connection,
          user: h.ssh.user,
          script: renderFrrDaemons({ name: h.name, forwarding: h.forwarding }),
          target: h.name,
          file: `fabric/${h.name}/frr-daemons.sh`,
        },
        {
          parent: this,
          dependsOn: [
            ...(h.node ? [h.node] : []),
            ...(previousInGroup.has(h.name) ? [applied.get(previousInGroup.get(h.name)!)!] : []),
          ],
        },
      );
      const conf = remoteFile(
        `${name}-${h.name}-frr-conf`,
        {
          connection,
          user: h.ssh.user,
          content: renderFrrConf(frrInputFor(plan, estate, h.name)),
          path: "/etc/frr/frr.conf",
          mode: "0640",
          owner: "frr:frr",
          check: FRR_CHECK,
          onChange: FRR_RELOAD,
          target: h.name,
          file: `fabric/${h.name}/frr.conf`,
          kind: "frr",
        },
        { parent: this, dependsOn: [daemons] },
      );
      applied.set(h.name, conf);
    }

    this.plan = plan;
    this.topology = pulumi.output(fabricOutput(plan));
    this.registerOutputs({ topology: this.topology });
  }
}
