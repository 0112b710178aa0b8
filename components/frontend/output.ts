/** The stack output `frontend`: its definition and its type. */
import { z } from "zod";
import { Ipv4, Name, Port } from "../shared/output";

export const FrontendOutput = z
  .strictObject({
    vip: Ipv4.describe("the floating address the balancers share (VRRP)"),
    balancers: z
      .array(
        z.strictObject({
          name: Name,
          address: Ipv4.describe("the balancer's own address on the front-tier segment"),
          priority: z.int().min(1).max(254).describe("VRRP priority; the highest holds the VIP"),
        }),
      )
      .min(1),
    ports: z.strictObject({ https: Port, http: Port }),
  })
  .meta({ description: "The front tier: Nginx balancers behind a keepalived VIP." });
export type FrontendOutput = z.infer<typeof FrontendOutput>;
