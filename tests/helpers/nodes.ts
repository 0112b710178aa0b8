/**
 * The component tests' way in: a `HardwareNode` per server, as `stacks/index.ts` builds
 * them, with a stand-in SSH key (a secret, as the stack's is).
 */
import * as pulumi from "@pulumi/pulumi";
import { HardwareNode } from "../../components/node";
import type { Estate, Server } from "../../config/model";

/** A node per server of `servers` (default: all of the estate's), by server name. */
export function hardwareNodes(
  estate: Estate,
  servers: readonly Server[] = estate.servers,
  privateKey: pulumi.Input<string> = pulumi.secret("PRIVATE-KEY-FOR-TEST"),
): Record<string, HardwareNode> {
  return Object.fromEntries(
    servers.map((server) => [server.name, new HardwareNode(server.name, { server, ...estate, privateKey })]),
  );
}
