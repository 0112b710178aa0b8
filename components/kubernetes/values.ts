/**
 * Chart values and Kubernetes objects of the cluster, as plain data: the tigera-operator
 * (Calico) and ceph-csi-rbd values, the application namespaces with their default-deny
 * policy, the CSI secret's shape and the StorageClasses. Pure: no Pulumi. Values that
 * come later (the Ceph fsid) are passed in as type parameters, so the same functions
 * build the values the Release receives and the values the tests check.
 */

/** Calico's chart, namespace and the operator's namespace for its own objects. */
export const CALICO = { release: "tigera-operator", namespace: "tigera-operator", chart: "tigera-operator" } as const;
export const CSI = {
  release: "ceph-csi-rbd",
  namespace: "ceph-csi-rbd",
  chart: "ceph-csi-rbd",
  secret: "csi-rbd-secret",
  driver: "rbd.csi.ceph.com",
} as const;
export const CHART_REPOS = {
  tigeraOperator: "https://docs.tigera.io/calico/charts",
  cephCsi: "https://ceph.github.io/csi-charts",
} as const;

/**
 * Where the other tiers run (the mesh and monitoring parts create these namespaces);
 * the application namespaces' policy admits exactly these peers.
 */
export const PEERS = {
  dns: { namespace: "kube-system", podLabels: { "k8s-app": "kube-dns" } },
  istiod: { namespace: "istio-system", podLabels: { app: "istiod" } },
  ingressGateway: { namespace: "istio-ingress", podLabels: { istio: "ingressgateway" } },
  monitoring: { namespace: "monitoring", podLabels: { "app.kubernetes.io/name": "prometheus" } },
} as const;

export interface CalicoInput {
  readonly podCidr: string;
  readonly serviceCidr: string;
}

/**
 * tigera-operator values. The fabric already runs BGP: FRR on every host holds TCP 179
 * and announces the host's loopback. Calico's BGP would need the same port (and its own
 * sessions with the leaves), so it is off and pod traffic is VXLAN between the nodes'
 * loopbacks, which the fabric routes. Not VXLANCrossSubnet: every node's address is a /32
 * loopback, so no two nodes share a subnet and it would encapsulate everything anyway.
 * Node addresses are the Kubernetes InternalIP, which K3s sets to the loopback (node-ip).
 */
export function calicoValues(input: CalicoInput): Record<string, unknown> {
  return {
    installation: {
      enabled: true,
      cni: { type: "Calico" },
      calicoNetwork: {
        bgp: "Disabled",
        ipPools: [
          {
            name: "default-ipv4-ippool",
            cidr: input.podCidr,
            encapsulation: "VXLAN",
            natOutgoing: "Enabled",
            nodeSelector: "all()",
            blockSize: 26,
          },
        ],
        nodeAddressAutodetectionV4: { kubernetes: "NodeInternalIP" },
      },
      serviceCIDRs: [input.serviceCidr],
      controlPlaneReplicas: 2,
    },
    apiServer: { enabled: true },
    // Calico's flow log UI and its aggregator: not part of this estate's monitoring.
    goldmane: { enabled: false },
    whisker: { enabled: false },
    manageCRDs: true,
  };
}

export interface CsiInput<S> {
  /** The Ceph fsid (the CSI cluster id). */
  readonly clusterId: S;
  /** `address:6789` of each monitor. */
  readonly monitors: readonly string[];
}

/** ceph-csi-rbd values: the cluster and monitors only; the key is a Secret, never a value. */
export function csiValues<S>(input: CsiInput<S>): Record<string, unknown> {
  return {
    csiConfig: [{ clusterID: input.clusterId, monitors: [...input.monitors] }],
    provisioner: { replicaCount: 2 },
    // The chart makes neither: the Secret comes from the Ceph component's key, the
    // StorageClasses (one per tier) are objects of their own.
    secret: { create: false },
    storageClass: { create: false },
  };
}

/** The CSI user's Secret (the key is filled in from a secret Output by the component). */
export function csiSecretObject<K>(user: string, key: K): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: CSI.secret, namespace: CSI.namespace },
    type: "Opaque",
    stringData: { userID: user, userKey: key },
  };
}

export interface StorageTier {
  /** StorageClass name, also the RBD pool (`kube-hot`, `kube-warm`). */
  readonly pool: string;
  readonly default: boolean;
}

/** One StorageClass per RBD pool; the hot one is the cluster's default. */
export function storageClassObject<S>(tier: StorageTier, clusterId: S): Record<string, unknown> {
  const secretParams = Object.fromEntries(
    ["provisioner", "controller-expand", "node-stage"].flatMap((p) => [
      [`csi.storage.k8s.io/${p}-secret-name`, CSI.secret],
      [`csi.storage.k8s.io/${p}-secret-namespace`, CSI.namespace],
    ]),
  );
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: {
      name: tier.pool,
      annotations: { "storageclass.kubernetes.io/is-default-class": tier.default ? "true" : "false" },
    },
    provisioner: CSI.driver,
    parameters: {
      clusterID: clusterId,
      pool: tier.pool,
      imageFeatures: "layering",
      "csi.storage.k8s.io/fstype": "ext4",
      ...secretParams,
    },
    reclaimPolicy: "Delete",
    allowVolumeExpansion: true,
    volumeBindingMode: "Immediate",
  };
}

/**
 * An application namespace: labelled as such, and for the mesh's sidecar injection
 * (`istio-injection: enabled`) when `sidecarInjection`. Only application namespaces are
 * made here, so system namespaces never carry the injection label.
 */
export function namespaceObject(name: string, opts: { sidecarInjection: boolean }): Record<string, unknown> {
  const labels: Record<string, string> = { "estate.io/tier": "application" };
  if (opts.sidecarInjection) labels["istio-injection"] = "enabled";
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } };
}

function peer(p: { namespace: string; podLabels: Record<string, string> }): Record<string, unknown> {
  return {
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": p.namespace } },
    podSelector: { matchLabels: { ...p.podLabels } },
  };
}

const tcp = (port: number): Record<string, unknown> => ({ protocol: "TCP", port });

/**
 * Default deny for an application namespace, with exactly these allowances:
 *  - egress to cluster DNS (53 UDP/TCP);
 *  - egress to istiod's xDS/CA port 15012 (the sidecar's configuration and certificates;
 *    istiod's 15017 is its webhook, called by the API server, not by application pods);
 *  - ingress from Prometheus to the sidecar's metrics: 15090 (Envoy) and 15020 (merged);
 *  - ingress from the Istio ingress gateway (the front tier's traffic), to any port.
 * Traffic between services is not allowed here: each application adds its own policy.
 */
export function defaultDenyPolicy(namespace: string): Record<string, unknown> {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "default-deny", namespace },
    spec: {
      podSelector: {},
      policyTypes: ["Ingress", "Egress"],
      egress: [
        {
          to: [peer(PEERS.dns)],
          ports: [
            { protocol: "UDP", port: 53 },
            { protocol: "TCP", port: 53 },
          ],
        },
        { to: [peer(PEERS.istiod)], ports: [tcp(15012)] },
      ],
      ingress: [
        { from: [peer(PEERS.monitoring)], ports: [tcp(15090), tcp(15020)] },
        { from: [peer(PEERS.ingressGateway)] },
      ],
    },
  };
}
