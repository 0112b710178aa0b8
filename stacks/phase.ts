/**
 * Composition in phases: in a preview, what one phase created is registered before the
 * next phase starts.
 *
 * Until the engine answers a resource's registration, the SDK holds its pending state
 * (an Output per property, the serialization of its inputs, the request): ~100 KiB a
 * resource. A program that creates every resource before any registration completes
 * holds that for all of them at once (1.4 GiB at 1,000 servers); waiting between
 * phases holds it for one phase only.
 *
 * Why this is safe under the real Pulumi CLI: it waits only in a preview (`isDryRun`),
 * where the engine answers a registration without creating anything, so a URN never
 * waits on a deployment. In an update nothing is recorded and nothing waits: resources
 * are created exactly as by one synchronous pass. What is registered (inputs, parents,
 * dependencies) is the same either way; only the order in which registrations reach the
 * engine changes.
 */
import * as pulumi from "@pulumi/pulumi";

/**
 * Starts recording every resource created from now on (a stack transformation, which sees
 * every resource of the stack); the function returned ends a phase: in a preview it waits
 * until every resource recorded since its last call is registered.
 */
export function phases(): () => Promise<void> {
  if (!pulumi.runtime.isDryRun()) return async () => {};
  let created: pulumi.Resource[] = [];
  pulumi.runtime.registerStackTransformation((args) => {
    created.push(args.resource);
    return undefined;
  });
  return async () => {
    const phase = created;
    created = [];
    await Promise.all(phase.map(registered));
  };
}

/** Resolves once `resource` is registered: its URN is known (in a preview, always). */
function registered(resource: pulumi.Resource): Promise<void> {
  return new Promise((resolve) => resource.urn.apply(() => resolve()));
}

/** `items` in consecutive slices of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
