/** The stack output `fabric`: its definition and its type. */
import { z } from "zod";
import { Asn, Ipv4, LinkAddress, Name } from "../shared/output";

const LinkEnd = z.strictObject({
  node: Name,
  iface: z.string().min(1),
  address: LinkAddress.optional().describe("this end's address; only on numbered fabrics"),
});

export const FabricOutput = z
  .strictObject({
    numbered: z.boolean().describe("true: every link has a /31 from pools.fabricLinks; false: eBGP unnumbered"),
    switches: z.array(
      z.discriminatedUnion("role", [
        z.strictObject({ name: Name, role: z.literal("spine"), asn: Asn, loopback: Ipv4 }),
        z.strictObject({ name: Name, role: z.literal("leaf"), rack: Name, asn: Asn, loopback: Ipv4 }),
      ]),
    ),
    servers: z.array(z.strictObject({ name: Name, asn: Asn, loopback: Ipv4 })),
    links: z.array(
      z.strictObject({
        a: LinkEnd.describe("the leaf (leaf-spine link) or the server (server-leaf link)"),
        b: LinkEnd.describe("the spine (leaf-spine link) or the leaf (server-leaf link)"),
        speedGbps: z.number().positive(),
      }),
    ),
    oversubscription: z.array(
      z.strictObject({
        leaf: Name,
        ratio: z.number().min(0).describe("server-facing : spine-facing capacity of the leaf"),
      }),
    ),
  })
  .meta({ description: "The spine-leaf fabric: switches, routed servers, links, oversubscription per leaf." });
export type FabricOutput = z.infer<typeof FabricOutput>;
