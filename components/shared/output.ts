/**
 * The building blocks of the stack-output contract (`ops/contract.ts`), shared by every
 * component's `output.ts`. Each carries an `id`, so the generated JSON Schema names it
 * once under `definitions` and refers to it everywhere else.
 */
import { z } from "zod";

const octet = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const ipv4 = `${octet}(\\.${octet}){3}`;

/** One IPv4 address in dotted-quad form, no prefix length. */
export const Ipv4 = z
  .string()
  .regex(new RegExp(`^${ipv4}$`))
  .meta({ id: "Ipv4Address", description: "an IPv4 address in dotted-quad form, e.g. 10.10.0.11" });

/** An address with its prefix length on a point-to-point /31 link. */
export const LinkAddress = z
  .string()
  .regex(new RegExp(`^${ipv4}/31$`))
  .meta({ id: "LinkAddress", description: "an address on a /31 point-to-point link, e.g. 10.254.0.0/31" });

/** A host, switch or rack name: a lower-case DNS label. */
export const Name = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
  .meta({ id: "Name", description: "a lower-case DNS label: a host, switch or rack name" });

/** A 32-bit BGP autonomous system number (RFC 6793). */
export const Asn = z.int().min(1).max(4294967295).meta({ id: "Asn", description: "a 4-byte BGP AS number" });

/** A TCP port. */
export const Port = z.int().min(1).max(65535);

/**
 * What the offline plan (and a preview) shows for a value known only after `pulumi up`:
 * for fields whose real value is not a string, the contract admits this marker too.
 */
export const PlanUnknown = z
  .literal("[unknown]")
  .meta({ id: "PlanUnknown", description: "only in an offline plan or preview: known after pulumi up" });
