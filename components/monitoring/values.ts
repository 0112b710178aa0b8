/**
 * kube-prometheus-stack values from typed input. Pure: no Pulumi, no config. Secrets are
 * never values: Grafana's admin password is a Secret the chart is pointed at
 * (`grafana.admin.existingSecret`), the receivers' credentials a Secret the Alertmanager
 * pods mount (`alertmanager.alertmanagerSpec.secrets`).
 */
import { DASHBOARD_LABEL, MONITORING_NAMESPACE, MONITORING_RELEASE } from "./conventions";
import { selectorLabels } from "./scrape";

export const KUBE_PROMETHEUS_STACK = {
  chart: "kube-prometheus-stack",
  release: MONITORING_RELEASE,
  namespace: MONITORING_NAMESPACE,
  repo: "https://prometheus-community.github.io/helm-charts",
} as const;

/** Grafana's admin Secret and its keys (the grafana chart's `admin.userKey`/`passwordKey` defaults). */
export const GRAFANA_ADMIN = {
  secret: "grafana-admin",
  userKey: "admin-user",
  passwordKey: "admin-password",
  user: "admin",
} as const;

/**
 * The Services the chart creates (the release name contains the chart's name, so its
 * "fullname" is the release name; Grafana is the subchart `<release>-grafana`), and their ports.
 */
export const SERVICES = {
  grafana: { name: `${MONITORING_RELEASE}-grafana`, port: 80, localPort: 3000 },
  alertmanager: { name: `${MONITORING_RELEASE}-alertmanager`, port: 9093, localPort: 9093 },
  prometheus: { name: `${MONITORING_RELEASE}-prometheus`, port: 9090, localPort: 9090 },
} as const;

export interface MonitoringValuesInput {
  readonly scrapeInterval: string;
  readonly evaluationInterval: string;
  readonly retention: { readonly time: string; readonly size: string };
  readonly volumes: { readonly prometheus: string; readonly alertmanager: string; readonly grafana: string };
  /** The StorageClass of every volume: the cluster's default (Ceph RBD). */
  readonly storageClass: string;
  /** Prometheus 2 and Alertmanager 3 replicas, else one each. */
  readonly highAvailability: boolean;
  /** Alertmanager's configuration (alertmanager.ts), without secrets. */
  readonly alertmanagerConfig: Record<string, unknown>;
  /** Secrets (in the namespace) mounted into the Alertmanager pods. */
  readonly alertmanagerSecrets: readonly string[];
}

/** Prometheus and Alertmanager replicas. */
export function replicasOf(highAvailability: boolean): { prometheus: number; alertmanager: number } {
  return highAvailability ? { prometheus: 2, alertmanager: 3 } : { prometheus: 1, alertmanager: 1 };
}

const volumeClaim = (storageClass: string, size: string): Record<string, unknown> => ({
  volumeClaimTemplate: {
    spec: {
      storageClassName: storageClass,
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: size } },
    },
  },
});

/**
 * The components K3s runs inside its own process (controller manager, scheduler, proxy,
 * embedded etcd) bind their metrics to 127.0.0.1 and have no pods for the chart's
 * Services to find: their monitors would see nothing, and their `absent(up{...})` alerts
 * (KubeSchedulerDown, KubeControllerManagerDown, KubeProxyDown) would fire forever. Off,
 * with their rules; etcd is watched through its snapshots (the estate's own rules).
 * The chart's node exporter is off too: every host already runs the Debian one on
 * port 9100 (conventions.ts; the chart's DaemonSet would need the same host port), and the
 * estate's `node` job scrapes it; so are the chart's node-exporter rules, which select
 * `job="node-exporter"`.
 */
const K3S_EMBEDDED = ["kubeControllerManager", "kubeScheduler", "kubeProxy", "kubeEtcd"] as const;
const RULES_OFF = [
  "etcd",
  "kubeControllerManager",
  "kubeProxy",
  "kubeSchedulerAlerting",
  "kubeSchedulerRecording",
  "node",
  "nodeExporterAlerting",
  "nodeExporterRecording",
  "windows",
] as const;
/** Chart components whose ServiceMonitor stays, and gets the selector label. */
const MONITORED = ["kubeApiServer", "kubelet", "coreDns", "prometheusOperator"] as const;

export function monitoringValues(input: MonitoringValuesInput): Record<string, unknown> {
  const labels = selectorLabels();
  const selector = { matchLabels: labels };
  const replicas = replicasOf(input.highAvailability);
  return {
    // The trap: with `*SelectorNilUsesHelmValues` true (the chart's default) and a selector
    // left empty, the operator selects only objects labelled `release: <release>`, and the
    // estate's rules, ScrapeConfigs and monitors, which do not carry it, are silently
    // ignored. Turning them false with empty selectors would instead select every object
    // of its kind in the cluster. So: both false, and every selector set to the estate's
    // label. The chart's own default rules and monitors carry `release:` but not that
    // label, so they get it through their additional-labels values below; otherwise this
    // selector would drop them.
    defaultRules: {
      labels,
      rules: Object.fromEntries(RULES_OFF.map((r) => [r, false])),
    },
    ...Object.fromEntries(K3S_EMBEDDED.map((c) => [c, { enabled: false }])),
    ...Object.fromEntries(MONITORED.map((c) => [c, { serviceMonitor: { additionalLabels: labels } }])),
    nodeExporter: { enabled: false },
    "kube-state-metrics": { prometheus: { monitor: { additionalLabels: labels } } },
    prometheus: {
      serviceMonitor: { additionalLabels: labels },
      prometheusSpec: {
        scrapeInterval: input.scrapeInterval,
        evaluationInterval: input.evaluationInterval,
        retention: input.retention.time,
        retentionSize: input.retention.size,
        replicas: replicas.prometheus,
        storageSpec: volumeClaim(input.storageClass, input.volumes.prometheus),
        ruleSelectorNilUsesHelmValues: false,
        ruleSelector: selector,
        serviceMonitorSelectorNilUsesHelmValues: false,
        serviceMonitorSelector: selector,
        podMonitorSelectorNilUsesHelmValues: false,
        podMonitorSelector: selector,
        probeSelectorNilUsesHelmValues: false,
        probeSelector: selector,
        scrapeConfigSelectorNilUsesHelmValues: false,
        scrapeConfigSelector: selector,
      },
    },
    alertmanager: {
      serviceMonitor: { additionalLabels: labels },
      config: input.alertmanagerConfig,
      alertmanagerSpec: {
        replicas: replicas.alertmanager,
        storage: volumeClaim(input.storageClass, input.volumes.alertmanager),
        secrets: [...input.alertmanagerSecrets],
      },
    },
    grafana: {
      admin: {
        existingSecret: GRAFANA_ADMIN.secret,
        userKey: GRAFANA_ADMIN.userKey,
        passwordKey: GRAFANA_ADMIN.passwordKey,
      },
      "grafana.ini": { "auth.anonymous": { enabled: false } },
      persistence: { enabled: true, type: "pvc", storageClassName: input.storageClass, size: input.volumes.grafana },
      // One pod on a ReadWriteOnce volume: the old pod must let go before the new one starts.
      deploymentStrategy: { type: "Recreate" },
      sidecar: {
        dashboards: {
          enabled: true,
          label: DASHBOARD_LABEL.key,
          labelValue: DASHBOARD_LABEL.value,
          searchNamespace: "ALL",
        },
      },
      serviceMonitor: { labels },
    },
  };
}
