/**
 * `estate:node:HardwareNode`: one bare-metal server reached over SSH.
 *
 * Children, run in this order: `<name>-preflight` (read-only hardware check, its stdout
 * is the facts JSON), `<name>-network` (fabric uplinks up, front-tier address; checks
 * link speeds) and `<name>-baseline` (idempotent OS baseline). Depending on the
 * component (`dependsOn: [node]`) waits for all three: that is the readiness signal.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Estate, Server } from "../../config/model";
import { connectionFor, remoteScript } from "../shared/remote";
import { baselineInputFor, networkInputFor, preflightInputFor } from "./input";
import {
  renderBaseline,
  renderBaselineDelete,
  renderNetwork,
  renderNetworkDelete,
  renderPreflight,
} from "./render";

export interface HardwareNodeArgs {
  /** The server's entry in the estate model. */
  readonly server: Server;
  /** The whole model, for site-wide settings (time servers, domain, node options). */
  readonly estate: Estate;
  /** The SSH private key (secret). */
  readonly privateKey: pulumi.Input<string>;
}

/** What preflight reports about the machine. */
export interface HardwareFacts {
  readonly host: string;
  readonly sockets: number;
  readonly cores: number;
  readonly memoryKiB: number;
  readonly secureBoot: string;
  readonly tpmVersion: string;
  readonly os: string;
  readonly kernel: string;
  readonly lsblk: unknown;
  readonly nics: readonly { name: string; speedMbps: number; state: string; mac: string }[];
  readonly problems: readonly string[];
}

export class HardwareNode extends pulumi.ComponentResource {
  public readonly hostname: pulumi.Output<string>;
  public readonly address: pulumi.Output<string>;
  public readonly facts: pulumi.Output<HardwareFacts>;
  /** Resolves to the host name once the baseline has run. */
  public readonly ready: pulumi.Output<string>;

  constructor(name: string, args: HardwareNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("estate:node:HardwareNode", name, {}, opts);
    const { server, estate } = args;
    const connection = connectionFor(server.ssh, args.privateKey);

    const preflight = remoteScript(
      `${name}-preflight`,
      {
        connection,
        user: server.ssh.user,
        script: renderPreflight(preflightInputFor(server, estate)),
        target: server.name,
        file: `nodes/${server.name}/preflight.sh`,
      },
      { parent: this },
    );

    const network = remoteScript(
      `${name}-network`,
      {
        connection,
        user: server.ssh.user,
        script: renderNetwork(networkInputFor(server, estate)),
        deleteCommand: renderNetworkDelete(server.ssh.user),
        target: server.name,
        file: `nodes/${server.name}/network.sh`,
      },
      { parent: this, dependsOn: [preflight] },
    );

    const baseline = remoteScript(
      `${name}-baseline`,
      {
        connection,
        user: server.ssh.user,
        script: renderBaseline(baselineInputFor(server, estate)),
        deleteCommand: renderBaselineDelete(server.ssh.user),
        target: server.name,
        file: `nodes/${server.name}/baseline.sh`,
      },
      { parent: this, dependsOn: [network] },
    );

    this.hostname = pulumi.output(server.name);
    this.address = pulumi.output(server.mgmtAddress);
    this.facts = preflight.stdout.apply((s) => JSON.parse(s) as HardwareFacts);
    this.ready = baseline.stdout.apply(() => server.name);
    this.registerOutputs({
      hostname: this.hostname,
      address: this.address,
      facts: this.facts,
      ready: this.ready,
    });
  }
}
