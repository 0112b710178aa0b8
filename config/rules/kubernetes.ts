/**
 * Kubernetes: a K3s server quorum, one K3s role per node, the resources K3s needs on each
 * Kubernetes node, the K3s binary's checksum, the API endpoint on the front tier's VIP, and
 * ingress NodePorts that collide with no other port the model gives the Kubernetes nodes.
 * (Pod and service CIDRs against each other and every pool: `pools.ts`.)
 */
import { isKubernetesNode } from "../model";
import { type Problems, show } from "../problems";
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
  if (servers) resources(servers, problems);

  if (!kubernetes) return;
  const api = kubernetes.apiEndpoint.address;
  if (api !== undefined && frontend && api !== frontend.vip)
    problems.add(
      "kubernetes.apiEndpoint.address",
      `${show(api)} is not frontend.vip (${frontend.vip}); the balancers forward the API (TCP ${K3S_API_PORT}) on the VIP only, leave it unset or set it to the VIP`,
    );
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

/** The K3s API server's port (the endpoint forwards the same port). */
export const K3S_API_PORT = 6443;

/**
 * What K3s needs on a node, with room for what the estate runs on every node (Calico, the
 * CSI node plugin, sidecars): K3s documents 2 cores / 2 GB for a server and 1 core / 512 MB
 * for an agent; embedded etcd on the servers wants memory of its own.
 */
export const K3S_MINIMUM = {
  "k8s-server": { cores: 2, memoryGiB: 4 },
  "k8s-agent": { cores: 1, memoryGiB: 2 },
} as const;

function resources(
  servers: readonly { readonly roles: readonly string[]; readonly hardware?: { cores?: number; memoryGiB?: number } }[],
  problems: Problems,
): void {
  servers.forEach((s, i) => {
    const role = s.roles.includes("k8s-server")
      ? "k8s-server"
      : s.roles.includes("k8s-agent")
        ? "k8s-agent"
        : undefined;
    if (!role || !s.hardware) return;
    const min = K3S_MINIMUM[role];
    if (typeof s.hardware.cores === "number" && s.hardware.cores < min.cores)
      problems.add(
        `servers[${i}].hardware.cores`,
        `${s.hardware.cores} is fewer than the ${min.cores} cores a ${role} node needs; give it at least ${min.cores} cores or drop the role`,
      );
    if (typeof s.hardware.memoryGiB === "number" && s.hardware.memoryGiB < min.memoryGiB)
      problems.add(
        `servers[${i}].hardware.memoryGiB`,
        `${s.hardware.memoryGiB} is less than the ${min.memoryGiB} GiB a ${role} node needs; give it at least ${min.memoryGiB} GiB or drop the role`,
      );
  });
}
