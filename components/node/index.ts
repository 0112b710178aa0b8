/**
 * The machines of the estate, and the way every other component reaches them.
 *
 * `estate:node:HardwareNode`: one bare-metal server reached over SSH. Children, run in
 * this order: `<name>-preflight` (read-only hardware check), `<name>-network` (fabric
 * uplinks up, front-tier address; checks link speeds) and `<name>-baseline` (idempotent
 * OS baseline). Depending on the component (`dependsOn: [node]`) waits for all three:
 * that is the readiness signal; `ready` carries it as a value.
 *
 * `estate:node:NetworkSwitch`: one switch reached over SSH, no children of its own; the
 * components that configure it (the fabric) take its connection from here.
 *
 * These two are the only components that receive the SSH private key. Every other
 * component takes the nodes it acts on and uses their `connection`.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Estate, Server, SshEndpoint, Switch } from "../../config/model";
import { connectionFor, remoteScript, type SshConnection } from "../shared/remote";
import { baselineInputFor, networkInputFor, preflightInputFor } from "./input";
import { type HardwareFacts, type NodeOutput, parsePreflightFacts, type SwitchOutput } from "./output";
import { renderBaseline, renderBaselineDelete, renderNetwork, renderNetworkDelete, renderPreflight } from "./render";

/** The site-wide parts of the model a node's scripts read (time, domain, node options, front segment). */
export type NodeSiteModel = Pick<Estate, "site" | "node" | "pools" | "frontend">;

export interface HardwareNodeArgs extends NodeSiteModel {
  /** The server's entry in the estate model. */
  readonly server: Server;
  /** The SSH private key (secret). */
  readonly privateKey: pulumi.Input<string>;
}

/** A node's stack-output entry: `ready` and `facts` are unknown until the scripts ran. */
export type NodeOutputs = Omit<NodeOutput, "ready" | "facts"> & {
  readonly ready: pulumi.Output<string>;
  /** Always the facts once known; typed as the contract's field (which admits a plan's "[unknown]"). */
  readonly facts: pulumi.Output<NodeOutput["facts"]>;
};

export class HardwareNode extends pulumi.ComponentResource {
  /** The server's entry in the estate model. */
  public readonly server: Server;
  /** SSH to this server: everything plain except the private key (secret). */
  public readonly connection: SshConnection;
  /** Resolves to the host name once preflight, network and baseline have run. */
  public readonly ready: pulumi.Output<string>;
  /** The hardware facts preflight printed (its stdout, parsed). */
  public readonly facts: pulumi.Output<HardwareFacts>;
  /** The stack output entry of this node (stack output `nodes[]`). */
  public readonly output: NodeOutputs;

  constructor(name: string, args: HardwareNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("estate:node:HardwareNode", name, {}, opts);
    const { server } = args;
    const connection = connectionFor(server.ssh, args.privateKey);
    const user = server.ssh.user;

    const preflight = remoteScript(
      `${name}-preflight`,
      {
        connection,
        user,
        script: renderPreflight(preflightInputFor(server, args)),
        target: server.name,
        file: `nodes/${server.name}/preflight.sh`,
      },
      { parent: this },
    );

    const network = remoteScript(
      `${name}-network`,
      {
        connection,
        user,
        script: renderNetwork(networkInputFor(server, args)),
        deleteCommand: renderNetworkDelete(user),
        target: server.name,
        file: `nodes/${server.name}/network.sh`,
      },
      { parent: this, dependsOn: [preflight] },
    );

    const baseline = remoteScript(
      `${name}-baseline`,
      {
        connection,
        user,
        script: renderBaseline(baselineInputFor(server, args)),
        deleteCommand: renderBaselineDelete(user),
        target: server.name,
        file: `nodes/${server.name}/baseline.sh`,
      },
      { parent: this, dependsOn: [network] },
    );

    this.server = server;
    this.connection = connection;
    this.ready = baseline.stdout.apply(() => server.name);
    this.facts = preflight.stdout.apply((out) => parsePreflightFacts(server.name, out));
    this.output = {
      name: server.name,
      mgmtAddress: server.mgmtAddress,
      ssh: sshOutput(server.ssh),
      loopback: server.loopback,
      rack: server.rack,
      roles: [...server.roles],
      ready: this.ready,
      facts: this.facts,
    };
    this.registerOutputs({ ready: this.ready, facts: this.facts, output: this.output });
  }
}

export interface NetworkSwitchArgs {
  /** The switch's entry in the estate model. */
  readonly switch: Switch;
  /** The SSH private key (secret). */
  readonly privateKey: pulumi.Input<string>;
}

export class NetworkSwitch extends pulumi.ComponentResource {
  /** The switch's entry in the estate model. */
  public readonly switch: Switch;
  /** SSH to this switch: everything plain except the private key (secret). */
  public readonly connection: SshConnection;
  /** The stack output entry of this switch (stack output `switches[]`). */
  public readonly output: SwitchOutput;

  constructor(name: string, args: NetworkSwitchArgs, opts?: pulumi.ComponentResourceOptions) {
    super("estate:node:NetworkSwitch", name, {}, opts);
    const s = args.switch;
    this.switch = s;
    this.connection = connectionFor(s.ssh, args.privateKey);
    this.output = { name: s.name, role: s.role, mgmtAddress: s.mgmtAddress, ssh: sshOutput(s.ssh) };
    this.registerOutputs({ output: this.output });
  }
}

/** The plain part of an SSH endpoint, as ops scripts need it (no key material but the public host key). */
function sshOutput(ssh: SshEndpoint): SwitchOutput["ssh"] {
  return { host: ssh.host, port: ssh.port, user: ssh.user, hostKey: ssh.hostKey };
}
