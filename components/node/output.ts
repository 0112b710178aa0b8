/** The stack-output entry of one hardware node (`nodes[]`): its definition and its type. */
import { z } from "zod";
import { Roles } from "../../config/schema";
import { Ipv4, Name } from "../shared/output";

export const NodeOutput = z
  .strictObject({
    name: Name,
    mgmtAddress: Ipv4.describe("where SSH reaches the node"),
    loopback: Ipv4.describe("the node's fabric loopback: what the other tiers use to reach it"),
    rack: Name,
    roles: z.array(z.enum(Roles)).min(1),
    ready: z.string().describe("the host name once preflight, network and baseline ran ([unknown] in a preview)"),
  })
  .meta({ description: "One bare-metal server." });
export type NodeOutput = z.infer<typeof NodeOutput>;
