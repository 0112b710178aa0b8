/**
 * Kubernetes: a K3s server quorum, one K3s role per node, and ingress NodePorts that
 * collide with no other port the model gives the Kubernetes nodes.
 */
import { isKubernetesNode } from "../model";
import type { Problems } from "../problems";
import type { RuleInput } from ".";

export function kubernetesRules({ config }: RuleInput, problems: Problems): void {
  const { servers, kubernetes, frontend, ssh } = config;
  if (servers)
    servers.forEach((s, i) => {
      if (s.roles.includes("k8s-server") && s.roles.includes("k8s-agent"))
        problems.add(
          `servers[${i}].roles`,
          "has both k8s-server and k8s-agent; a K3s server already runs workloads, keep one",
        );
    });
  if (servers && kubernetes) quorum(servers, "k8s-server", kubernetes.highAvailability, "kubernetes", problems);

  if (!kubernetes) return;
  const ports = kubernetes.ingressNodePorts;
  if (ports.https === ports.http)
    problems.add(
      "kubernetes.ingressNodePorts.http",
      `${ports.http} is also kubernetes.ingressNodePorts.https; the gateway's HTTP and HTTPS need two NodePorts`,
    );
  // Other ports the model opens on a Kubernetes node: its SSH port, and Nginx's on a balancer.
  const taken: { port: number; what: string }[] = [];
  if (servers && ssh)
    servers.forEach((s, i) => {
      if (!isKubernetesNode(s)) return;
      const port = s.ssh?.port ?? ssh.port;
      taken.push({ port, what: s.ssh?.port !== undefined ? `servers[${i}].ssh.port` : "ssh.port" });
      if (s.roles.includes("lb") && frontend)
        taken.push(
          { port: frontend.ports.https, what: "frontend.ports.https" },
          { port: frontend.ports.http, what: "frontend.ports.http" },
        );
    });
  for (const key of ["https", "http"] as const) {
    const clash = taken.find((t) => t.port === ports[key]);
    if (clash)
      problems.add(
        `kubernetes.ingressNodePorts.${key}`,
        `${ports[key]} is also ${clash.what} on a Kubernetes node; pick a free NodePort in 30000-32767`,
      );
  }
}

/** An odd number of at least three (when highly available) of the nodes with `role`. */
export function quorum(
  servers: readonly { readonly roles: readonly string[] }[],
  role: "k8s-server" | "ceph-mon",
  ha: boolean,
  key: string,
  problems: Problems,
): void {
  const n = servers.filter((s) => s.roles.includes(role)).length;
  if (n === 0) problems.add("servers", `has no server with role ${role}; add at least one`);
  else if (ha && (n < 3 || n % 2 === 0))
    problems.add(
      `${key}.highAvailability`,
      `is true but there are ${n} ${role} nodes; use an odd number of at least 3 (3, 5, 7) or set it to false`,
    );
}
