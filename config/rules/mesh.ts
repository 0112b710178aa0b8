/**
 * Mesh: istiod replicated when highly available (two at least, so the sidecars' xDS and
 * certificates survive a node), the autoscaler's bounds in order, and mirrors that name an
 * application namespace, another service, and each service once.
 */
import { nameList, type Problems, show } from "../problems";
import type { RuleInput } from ".";

export function meshRules({ config }: RuleInput, problems: Problems): void {
  const { mesh, kubernetes } = config;
  if (!mesh) return;
  const ha = mesh.highAvailability ?? kubernetes?.highAvailability;
  const { replicas, maxReplicas } = mesh.istiod;
  if (ha && replicas < 2)
    problems.add(
      "mesh.istiod.replicas",
      `${replicas} is fewer than the 2 istiod replicas a highly available mesh needs; use at least 2 or set mesh.highAvailability to false`,
    );
  if (maxReplicas < replicas)
    problems.add(
      "mesh.istiod.maxReplicas",
      `${maxReplicas} is less than mesh.istiod.replicas (${replicas}); the autoscaler's maximum must be at least its minimum`,
    );

  const seen = new Map<string, number>();
  mesh.mirrors.forEach((m, i) => {
    const namespaces = kubernetes?.applicationNamespaces;
    if (namespaces && !namespaces.includes(m.namespace))
      problems.add(
        `mesh.mirrors[${i}].namespace`,
        `${show(m.namespace)} is not an application namespace; name one of ${nameList(namespaces)} (kubernetes.applicationNamespaces)`,
      );
    if (m.mirrorTo === m.service)
      problems.add(
        `mesh.mirrors[${i}].mirrorTo`,
        `${show(m.mirrorTo)} is the mirrored service itself; name another service in ${show(m.namespace)}`,
      );
    const key = `${m.namespace}/${m.service}`;
    const first = seen.get(key);
    if (first !== undefined)
      problems.add(
        `mesh.mirrors[${i}].service`,
        `${show(m.service)} in ${show(m.namespace)} is already mirrored by mesh.mirrors[${first}]; one mirror per service, remove one`,
      );
    else seen.set(key, i);
  });
}
