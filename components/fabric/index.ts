/**
 * `estate:fabric:SpineLeafFabric`: the BGP/BFD fabric on every switch and routed server.
 *
 * Children per node (switch or server name, never a list position):
 *   `<name>-<node>-frr-daemons`  enables bgpd/bfdd (shell, `fabric/<node>/frr-daemons.sh`)
 *   `<name>-<node>-frr-conf`     /etc/frr/frr.conf: syntax-checked, reloaded (kind frr,
 *                                `fabric/<node>/frr.conf`), after the daemons step
 *   `<name>-<node>-exporters`    the FRR exporter (and on switches the node exporter) on the
 *                                node's loopback, once frr.conf put it on lo (shell,
 *                                `fabric/<node>/exporters.sh`); checks both FRR collectors work
 * A server's steps wait for its HardwareNode (baseline installs FRR). Switches roll: each
 * spine waits for the spine before it, each leaf for the leaf before it in its rack.
 */
import * as pulumi from "@pulumi/pulumi";
import type { HardwareNode, NetworkSwitch } from "../node";
import { remoteFile, remoteScript } from "../shared/remote";
import { frrInputFor } from "./input";
import type { FabricOutput } from "./output";
import { type FabricPlanInput, fabricOutput, planFabric } from "./plan";
import { FRR_CHECK, FRR_RELOAD, renderFabricExporters, renderFrrConf, renderFrrDaemons } from "./render";

export interface SpineLeafFabricArgs extends FabricPlanInput {
  /**
   * How to reach every switch and routed server, by name: its NetworkSwitch or
   * HardwareNode. A server's FRR waits for its node to be ready.
   */
  readonly nodes: Readonly<Record<string, HardwareNode | NetworkSwitch>>;
}

/** Passed by `create` only: the constructor leaves the per-node children to it. */
const PACED = Symbol("paced");

export class SpineLeafFabric extends pulumi.ComponentResource {
  /** The stack output `fabric`. */
  public readonly output: pulumi.Output<FabricOutput>;
  /** Creates the children of one switch or server, in `hosts` order. */
  private readonly addHost: (h: { name: string; forwarding: boolean; kind: string }) => void;
  private readonly hosts: readonly { name: string; forwarding: boolean; kind: string }[];

  /**
   * The same fabric as `new SpineLeafFabric`, its per-node children created `batch` nodes
   * at a time with `await pace()` after each batch (stacks/phase.ts: in a preview, until
   * they are registered), so the SDK's pending state is held for one batch, not all.
   */
  static async create(
    name: string,
    args: SpineLeafFabricArgs,
    pace: () => Promise<void>,
    batch: number,
    opts?: pulumi.ComponentResourceOptions,
  ): Promise<SpineLeafFabric> {
    const fabric = new SpineLeafFabric(name, args, opts, PACED);
    for (let i = 0; i < fabric.hosts.length; i += batch) {
      for (const h of fabric.hosts.slice(i, i + batch)) fabric.addHost(h);
      await pace();
    }
    fabric.registerOutputs({ output: fabric.output });
    return fabric;
  }

  constructor(name: string, args: SpineLeafFabricArgs, opts?: pulumi.ComponentResourceOptions, paced?: typeof PACED) {
    super("estate:fabric:SpineLeafFabric", name, {}, opts);
    const plan = planFabric(args);

    // Rolling changes: a switch waits for the one before it in its group (the spines; the
    // leaves of one rack), so a reload or restart never takes both spines, or both leaves
    // of a rack, down at once. Servers each affect only themselves.
    const groupOf = (s: (typeof args.switches)[number]): string => (s.role === "spine" ? "spines" : `rack ${s.rack}`);
    const previousInGroup = new Map<string, string>();
    const lastOfGroup = new Map<string, string>();
    for (const s of args.switches) {
      const prev = lastOfGroup.get(groupOf(s));
      if (prev) previousInGroup.set(s.name, prev);
      lastOfGroup.set(groupOf(s), s.name);
    }
    const applied = new Map<string, pulumi.Resource>();

    const hosts = [
      ...args.switches.map((s) => ({ name: s.name, forwarding: true, kind: "switch" })),
      ...args.servers.map((s) => ({ name: s.name, forwarding: false, kind: "server" })),
    ];
    for (const h of hosts) {
      const node = args.nodes[h.name];
      const isServer = h.kind === "server";
      if (!node || "server" in node !== isServer)
        throw new Error(
          `SpineLeafFabric ${name}: no ${isServer ? "HardwareNode" : "NetworkSwitch"} given for ${h.kind} ${h.name}`,
        );
    }
    this.hosts = hosts;
    this.addHost = (h) => {
      const node = args.nodes[h.name];
      const isServer = h.kind === "server";
      const { connection } = node;
      const daemons = remoteScript(
        `${name}-${h.name}-frr-daemons`,
        {
          connection,
          user: connection.user,
          script: renderFrrDaemons({ name: h.name, forwarding: h.forwarding }),
          target: h.name,
          file: `fabric/${h.name}/frr-daemons.sh`,
        },
        {
          parent: this,
          dependsOn: [
            ...(isServer ? [node] : []),
            ...(previousInGroup.has(h.name) ? [applied.get(previousInGroup.get(h.name)!)!] : []),
          ],
        },
      );
      const frrInput = frrInputFor(plan, args, h.name);
      const conf = remoteFile(
        `${name}-${h.name}-frr-conf`,
        {
          connection,
          user: connection.user,
          content: renderFrrConf(frrInput),
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
      // Monitoring: not part of the roll (an exporter restart never touches forwarding).
      remoteScript(
        `${name}-${h.name}-exporters`,
        {
          connection,
          user: connection.user,
          script: renderFabricExporters({ name: h.name, kind: frrInput.kind, loopback: frrInput.loopback }),
          target: h.name,
          file: `fabric/${h.name}/exporters.sh`,
        },
        { parent: this, dependsOn: [conf] },
      );
    };

    this.output = pulumi.output(fabricOutput(plan));
    if (paced === PACED) return;
    for (const h of hosts) this.addHost(h);
    this.registerOutputs({ output: this.output });
  }
}
