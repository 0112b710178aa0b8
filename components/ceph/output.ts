/** The stack output `ceph`: its definition and its type. Keys are never part of it. */
import { z } from "zod";
import { Ipv4, Name } from "../shared/output";

export const CephOutput = z
  .strictObject({
    fsid: z.string().describe("the cluster's fsid (a UUID; [unknown] in a first preview)"),
    monitors: z.array(Ipv4).min(1).describe("the monitors' addresses (their hosts' loopbacks)"),
    rgwEndpoints: z
      .array(z.string().regex(/^http:\/\/[0-9.]+:\d+$/))
      .describe("the S3 endpoints (RGW), one per RGW host"),
    pools: z
      .array(
        z.strictObject({
          name: Name,
          deviceClass: z.enum(["nvme", "ssd", "hdd"]),
          size: z.int().min(1),
          minSize: z.int().min(1),
        }),
      )
      .min(1)
      .describe("the RBD pools for Kubernetes volumes"),
    csiClient: z
      .string()
      .regex(/^client\.[a-z0-9._-]+$/)
      .describe("the Ceph user the CSI driver authenticates as"),
    coldTier: z
      .strictObject({ bucket: z.string(), user: z.string() })
      .nullable()
      .describe("the S3 bucket and user for backups, null without an RGW host"),
  })
  .meta({
    description:
      "The Ceph cluster: fsid, monitors, S3 endpoints, pools and the CSI client (keys are secret, elsewhere).",
  });
export type CephOutput = z.infer<typeof CephOutput>;
