/**
 * The Istio mesh as plain data: the three charts' values (istio.values.yaml with the
 * stack's overlay) and the mesh's objects: PeerAuthentication, the mesh-wide
 * DestinationRule, Telemetry, the ingress Gateway with its TLS Secret, mirroring
 * VirtualServices, the namespaces and the gateway's NetworkPolicy. Pure: no Pulumi, no
 * config. Values that come later (the certificate) are type parameters.
 */
import * as yaml from "js-yaml";
import { PEERS } from "../kubernetes/values";

export const ISTIO_REPO = "https://istio-release.storage.googleapis.com/charts";

/** The root namespace (istiod, mesh-wide policy) and the ingress gateway's namespace. */
export const MESH_NAMESPACES = {
  istiod: PEERS.istiod.namespace,
  gateway: PEERS.ingressGateway.namespace,
} as const;

/** Releases in install order: CRDs, then the control plane, then the gateway. */
export const RELEASES = {
  base: { release: "istio-base", chart: "base", namespace: MESH_NAMESPACES.istiod },
  istiod: { release: "istiod", chart: "istiod", namespace: MESH_NAMESPACES.istiod },
  // The release name gives the pods `istio: ingressgateway` (the chart trims "istio-"),
  // the label PEERS.ingressGateway and the Gateway's selector use.
  gateway: { release: "istio-ingressgateway", chart: "gateway", namespace: MESH_NAMESPACES.gateway },
} as const;
export type ReleaseKey = keyof typeof RELEASES;

/** The Secret the ingress Gateway's TLS server reads (`credentialName`), in the gateway's namespace. */
export const GATEWAY_TLS_SECRET = "ingress-tls";

/** The gateway pod's ports behind the Service (its targetPorts) and the Service's own. */
export const GATEWAY_PORTS = { http: 80, https: 443, status: 15021 } as const;

/** Envoy's metrics (15090) and the agent's merged metrics (15020): what Prometheus scrapes. */
export const SCRAPE_PORTS = [15090, 15020] as const;

export type Values = Record<string, unknown>;

/** istio.values.yaml: one section of Helm values per chart. */
export type IstioValuesFile = Readonly<Record<ReleaseKey, Values>>;

const isMap = (v: unknown): v is Values => !!v && typeof v === "object" && !Array.isArray(v);

/** Reads istio.values.yaml; fails naming the file when a section is missing or not a map. */
export function parseIstioValues(text: string, file = "istio.values.yaml"): IstioValuesFile {
  const doc = yaml.load(text);
  if (!isMap(doc)) throw new Error(`${file}: must be a map with the sections base, istiod and gateway`);
  const extra = Object.keys(doc).filter((k) => !(k in RELEASES));
  if (extra.length)
    throw new Error(`${file}: unknown section ${extra.join(", ")}; the sections are base, istiod, gateway`);
  for (const k of Object.keys(RELEASES))
    if (!isMap(doc[k])) throw new Error(`${file}: section ${k} is missing or not a map of Helm values`);
  return doc as IstioValuesFile;
}

export interface MeshValuesInput {
  /** istiod replicas and the autoscaler's minimum. */
  readonly istiodReplicas: number;
  readonly istiodMaxReplicas: number;
  /** The gateway Service's NodePorts: the ports the front tier's Nginx forwards to. */
  readonly nodePorts: { readonly http: number; readonly https: number };
}

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function at(values: Values, path: readonly string[]): Values {
  let cur = values;
  for (const k of path) {
    if (!isMap(cur[k])) cur[k] = {};
    cur = cur[k] as Values;
  }
  return cur;
}

/** The values each Release receives: the file's sections with what the model decides laid over. */
export function meshValues(file: IstioValuesFile, input: MeshValuesInput): Record<ReleaseKey, Values> {
  const base = clone(file.base);
  const istiod = clone(file.istiod);
  istiod.replicaCount = input.istiodReplicas;
  istiod.autoscaleMin = input.istiodReplicas;
  istiod.autoscaleMax = input.istiodMaxReplicas;
  // A budget of one available pod with a single replica would block every node drain.
  at(istiod, ["global", "defaultPodDisruptionBudget"]).enabled = input.istiodReplicas >= 2;

  const gateway = clone(file.gateway);
  const service = at(gateway, ["service"]);
  const ports = Array.isArray(service.ports) ? (service.ports as Values[]) : [];
  const nodePort = (target: number, port: number): Values => {
    const p = ports.find((x) => x.targetPort === target);
    if (!p) throw new Error(`istio.values.yaml: gateway.service.ports has no port with targetPort ${target}`);
    return { ...p, nodePort: port };
  };
  const byTarget = new Map<number, Values>([
    [GATEWAY_PORTS.http, nodePort(GATEWAY_PORTS.http, input.nodePorts.http)],
    [GATEWAY_PORTS.https, nodePort(GATEWAY_PORTS.https, input.nodePorts.https)],
  ]);
  service.ports = ports.map((p) => byTarget.get(p.targetPort as number) ?? p);
  return { base, istiod, gateway };
}

/** A namespace of the mesh's own: never labelled for sidecar injection. */
export function meshNamespaceObject(name: string): Values {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { "estate.io/tier": "mesh" } } };
}

/** Mutual TLS required for every workload of the mesh (in the root namespace: mesh-wide). */
export function peerAuthenticationObject(): Values {
  return {
    apiVersion: "security.istio.io/v1",
    kind: "PeerAuthentication",
    metadata: { name: "default", namespace: MESH_NAMESPACES.istiod },
    spec: { mtls: { mode: "STRICT" } },
  };
}

/**
 * The mesh's default traffic policy for every service: round robin; TCP keepalive so idle
 * connections through the fabric and conntrack stay known to be alive (or are dropped)
 * within minutes; connection and request limits; and outlier detection that ejects an
 * endpoint after consecutive 5xx (circuit breaking) but never more than half of them.
 */
export const MESH_TRAFFIC_POLICY = {
  loadBalancer: { simple: "ROUND_ROBIN" },
  connectionPool: {
    tcp: {
      maxConnections: 1024,
      connectTimeout: "5s",
      tcpKeepalive: { time: "300s", interval: "30s", probes: 3 },
    },
    http: {
      http1MaxPendingRequests: 1024,
      http2MaxRequests: 1024,
      maxRequestsPerConnection: 0,
      maxRetries: 3,
      idleTimeout: "300s",
    },
  },
  outlierDetection: {
    consecutive5xxErrors: 5,
    interval: "10s",
    baseEjectionTime: "30s",
    maxEjectionPercent: 50,
  },
} as const;

/**
 * The mesh-wide DestinationRule: in the root namespace with host `*.local` (every
 * cluster-local service), the form Istio's documentation uses for mesh-wide defaults. It
 * sets no TLS: auto mTLS and the STRICT PeerAuthentication decide that.
 */
export function destinationRuleDefaultObject(): Values {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "DestinationRule",
    metadata: { name: "default", namespace: MESH_NAMESPACES.istiod },
    spec: { host: "*.local", trafficPolicy: clone(MESH_TRAFFIC_POLICY) },
  };
}

/** Mesh-wide metrics (Prometheus) and access logs (Envoy's, to stdout per meshConfig). */
export function telemetryObject(): Values {
  return {
    apiVersion: "telemetry.istio.io/v1",
    kind: "Telemetry",
    metadata: { name: "mesh-default", namespace: MESH_NAMESPACES.istiod },
    spec: {
      metrics: [{ providers: [{ name: "prometheus" }] }],
      accessLogging: [{ providers: [{ name: "envoy" }] }],
    },
  };
}

/** The ingress Gateway: HTTPS on 443 (TLS from GATEWAY_TLS_SECRET) and HTTP on 80. */
export function gatewayObject(hosts: readonly string[] = ["*"]): Values {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "Gateway",
    metadata: { name: "ingress", namespace: MESH_NAMESPACES.gateway },
    spec: {
      selector: { ...PEERS.ingressGateway.podLabels },
      servers: [
        {
          port: { number: GATEWAY_PORTS.https, name: "https", protocol: "HTTPS" },
          hosts: [...hosts],
          tls: { mode: "SIMPLE", credentialName: GATEWAY_TLS_SECRET },
        },
        {
          port: { number: GATEWAY_PORTS.http, name: "http", protocol: "HTTP" },
          hosts: [...hosts],
        },
      ],
    },
  };
}

/** The gateway's certificate and key (the estate's tlsCertificate/tlsKey), a kubernetes.io/tls Secret. */
export function gatewaySecretObject<S>(certificate: S, key: S): Values {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: GATEWAY_TLS_SECRET, namespace: MESH_NAMESPACES.gateway },
    type: "kubernetes.io/tls",
    stringData: { "tls.crt": certificate, "tls.key": key },
  };
}

export interface MirrorInput {
  readonly namespace: string;
  readonly service: string;
  readonly mirrorTo: string;
  readonly percent: number;
}

/** Routes `service` as before and copies `percent` % of its requests to `mirrorTo`. */
export function mirrorObject(m: MirrorInput, clusterDomain = "cluster.local"): Values {
  const host = (svc: string) => `${svc}.${m.namespace}.svc.${clusterDomain}`;
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name: `${m.service}-mirror`, namespace: m.namespace },
    spec: {
      hosts: [host(m.service)],
      http: [
        {
          route: [{ destination: { host: host(m.service) } }],
          mirror: { host: host(m.mirrorTo) },
          mirrorPercentage: { value: m.percent },
        },
      ],
    },
  };
}

/**
 * The gateway pods admit HTTP and HTTPS only from the balancers' loopbacks (what Nginx
 * binds its upstream connections to; the Service's externalTrafficPolicy Local keeps that
 * source), and Prometheus in the monitoring namespace on the scrape ports. Egress is not
 * restricted here (istiod and the applications' sidecars).
 */
export function gatewayPolicyObject(balancerLoopbacks: readonly string[]): Values {
  const tcp = (port: number) => ({ protocol: "TCP", port });
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "ingress-from-balancers", namespace: MESH_NAMESPACES.gateway },
    spec: {
      podSelector: { matchLabels: { ...PEERS.ingressGateway.podLabels } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [...balancerLoopbacks].sort().map((a) => ({ ipBlock: { cidr: `${a}/32` } })),
          ports: [tcp(GATEWAY_PORTS.http), tcp(GATEWAY_PORTS.https)],
        },
        {
          from: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": PEERS.monitoring.namespace } },
              podSelector: { matchLabels: { ...PEERS.monitoring.podLabels } },
            },
          ],
          ports: SCRAPE_PORTS.map(tcp),
        },
      ],
    },
  };
}
