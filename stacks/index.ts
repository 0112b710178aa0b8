/**
 * How a stack's config selects and wires the components. Stacks differ in config only:
 * nothing here looks at the stack's name.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { EstateSecrets } from "../config/load";
import type { Estate } from "../config/model";
import { HardwareNode } from "../components/node";
import { type FabricOutput, SpineLeafFabric } from "../components/fabric";
import { FrontTier, type FrontendOutput } from "../components/frontend";

/** The stack outputs: a contract that ops scripts read (see README, "Stack outputs"). */
export interface EstateOutputs {
  readonly site: { readonly stack: string; readonly domain: string };
  readonly nodes: readonly {
    readonly name: string;
    readonly mgmtAddress: string;
    readonly loopback: string;
    readonly rack: string;
    readonly roles: readonly string[];
    readonly ready: pulumi.Output<string>;
  }[];
  /** Fabric topology: switches, routed servers, links, oversubscription per leaf. */
  readonly fabric: pulumi.Output<FabricOutput>;
  /** Front tier: the VIP, the balancers with their VRRP priorities, the ports. */
  readonly frontend: pulumi.Output<FrontendOutput>;
}

export function composeEstate(estate: Estate, secrets: EstateSecrets): EstateOutputs {
  const nodes = estate.servers.map(
    (server) => new HardwareNode(server.name, { server, estate, privateKey: secrets.sshPrivateKey }),
  );
  const nodeByName = Object.fromEntries(estate.servers.map((s, i) => [s.name, nodes[i]]));
  const fabric = new SpineLeafFabric("fabric", { estate, privateKey: secrets.sshPrivateKey, nodes: nodeByName });
  const frontend = new FrontTier("frontend", {
    estate,
    privateKey: secrets.sshPrivateKey,
    tlsCertificate: secrets.tlsCertificate,
    tlsKey: secrets.tlsKey,
    vrrpPassword: secrets.vrrpPassword,
    nodes: nodeByName,
  });
  return {
    site: { stack: estate.stack, domain: estate.site.domain },
    nodes: estate.servers.map((s, i) => ({
      name: s.name,
      mgmtAddress: s.mgmtAddress,
      loopback: s.loopback,
      rack: s.rack,
      roles: s.roles,
      ready: nodes[i].ready,
    })),
    fabric: fabric.topology,
    frontend: frontend.summary,
  };
}
