/**
 * `estate:monitoring:Monitoring`: kube-prometheus-stack (Prometheus, Alertmanager,
 * Grafana, the operator) on the cluster, watching the whole estate: the hosts' exporters
 * through ScrapeConfigs derived from the model, the mesh through its monitors, the
 * estate's alert rules and dashboards.
 *
 * Children (names from stable keys, never list positions):
 *   `<name>-namespace`               the monitoring namespace (not an application namespace: no sidecars)
 *   `<name>-grafana-password`        Grafana's admin password (@pulumi/random, secret)
 *   `<name>-grafana-admin`           the Secret Grafana reads it from (`grafana.admin.existingSecret`)
 *   `<name>-alertmanager-credentials` the receivers' credentials (only when a receiver names one)
 *   `<name>-release`                 the kube-prometheus-stack Release (kind helm-values; its
 *                                    `alertmanager.config` also as kind alertmanager)
 *   `<name>-scrape-<job>`            a ScrapeConfig per exporter job (kind k8s-object)
 *   `<name>-envoy-stats`, `<name>-istiod`   the mesh's monitors (kind k8s-object)
 *   `<name>-rules-<rule>`            a PrometheusRule per rule group object (kind prometheus-rules)
 *   `<name>-dashboard-<name>`        a ConfigMap per dashboard (kind grafana-dashboard)
 *
 * Everything goes through the cluster's Provider, after the cluster (its StorageClasses
 * and its roll: the component as a whole); the custom resources after the Release that
 * installs their CRDs.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { KubernetesCluster } from "../kubernetes";
import { tagArtifact } from "../shared/artifacts";
import { alertmanagerConfig, CREDENTIALS_SECRET, credentialNames, credentialsData } from "./alertmanager";
import { EXPORTERS, MONITORING_NAMESPACE, TARGET_LABELS } from "./conventions";
import {
  alertmanagerInputFor,
  defaultStorageClass,
  highAvailabilityOf,
  type MonitoringModel,
  scrapeInputFor,
} from "./input";
import type { MonitoringOutput } from "./output";
import { dashboardConfigMaps } from "./dashboards";
import { dashboardsInputFor, rulesInputFor } from "./rules-input";
import { prometheusRules } from "./rules";
import { type K8sObject, meshMonitors, scrapeConfigs } from "./scrape";
import { GRAFANA_ADMIN, KUBE_PROMETHEUS_STACK, monitoringValues, replicasOf, SERVICES } from "./values";

export interface MonitoringArgs extends MonitoringModel {
  /** The cluster: its Provider, and its StorageClasses (the default one holds every volume). */
  readonly cluster: Pick<KubernetesCluster, "provider" | "output"> & pulumi.Resource;
  /** Alertmanager's receiver credentials by name (secret); only the ones receivers name are used. */
  readonly alertmanagerCredentials: pulumi.Input<Record<string, string>>;
}

export class Monitoring extends pulumi.ComponentResource {
  /** Grafana's admin password (secret): the stack output `grafanaAdminPassword`. */
  public readonly grafanaAdminPassword: pulumi.Output<string>;
  /** The stack output `monitoring`. */
  public readonly output: MonitoringOutput;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("estate:monitoring:Monitoring", name, {}, opts);
    const namespace = MONITORING_NAMESPACE;
    const file = (f: string): string => `monitoring/${f}`;
    const k8sOpts = (dependsOn: pulumi.Input<pulumi.Resource>[]): pulumi.CustomResourceOptions => ({
      parent: this,
      provider: args.cluster.provider,
      dependsOn,
    });
    const tagObject = (res: pulumi.Resource, target: string, f: string) =>
      tagArtifact(res, { kind: "k8s-object", target, property: ".", file: file(`objects/${f}.yaml`), format: "yaml" });

    const ns = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      { metadata: { name: namespace } },
      // The cluster as a whole: its StorageClasses exist and every node rolled and is Ready.
      k8sOpts([args.cluster]),
    );
    tagObject(ns, namespace, `namespace-${namespace}`);

    const password = new random.RandomPassword(
      `${name}-grafana-password`,
      { length: 32, special: false },
      { parent: this },
    );
    this.grafanaAdminPassword = pulumi.secret(password.result);
    const grafanaAdmin = new k8s.core.v1.Secret(
      `${name}-grafana-admin`,
      {
        metadata: { name: GRAFANA_ADMIN.secret, namespace },
        type: "Opaque",
        stringData: {
          [GRAFANA_ADMIN.userKey]: GRAFANA_ADMIN.user,
          [GRAFANA_ADMIN.passwordKey]: this.grafanaAdminPassword,
        },
      },
      k8sOpts([ns]),
    );
    tagObject(grafanaAdmin, namespace, GRAFANA_ADMIN.secret);

    const amInput = alertmanagerInputFor(args);
    const secrets: pulumi.Resource[] = [grafanaAdmin];
    const mounted: string[] = [];
    // Decided from plain config: a Secret only when some receiver names a credential.
    if (credentialNames(amInput).length > 0) {
      const credentials = new k8s.core.v1.Secret(
        `${name}-alertmanager-credentials`,
        {
          metadata: { name: CREDENTIALS_SECRET, namespace },
          type: "Opaque",
          stringData: pulumi.secret(
            pulumi.output(args.alertmanagerCredentials).apply((c) => credentialsData(amInput, c)),
          ),
        },
        k8sOpts([ns]),
      );
      tagObject(credentials, namespace, CREDENTIALS_SECRET);
      secrets.push(credentials);
      mounted.push(CREDENTIALS_SECRET);
    }

    const storageClass = defaultStorageClass(args.cluster.output.storageClasses);
    const ha = highAvailabilityOf(args);
    const m = args.monitoring;
    const release = new k8s.helm.v3.Release(
      `${name}-release`,
      {
        name: KUBE_PROMETHEUS_STACK.release,
        chart: KUBE_PROMETHEUS_STACK.chart,
        version: args.versions.kubePrometheusStack,
        repositoryOpts: { repo: KUBE_PROMETHEUS_STACK.repo },
        namespace,
        createNamespace: false,
        values: monitoringValues({
          scrapeInterval: m.scrapeInterval,
          evaluationInterval: m.evaluationInterval,
          retention: m.retention,
          volumes: m.volumes,
          storageClass,
          highAvailability: ha,
          alertmanagerConfig: alertmanagerConfig(amInput),
          alertmanagerSecrets: mounted,
        }),
        timeout: 900,
      },
      k8sOpts([ns, ...secrets]),
    );
    tagArtifact(release, {
      kind: "helm-values",
      target: KUBE_PROMETHEUS_STACK.release,
      property: "values",
      file: file(`releases/${KUBE_PROMETHEUS_STACK.release}.values.yaml`),
      format: "yaml",
    });
    tagArtifact(release, {
      kind: "alertmanager",
      target: "alertmanager",
      property: "values.alertmanager.config",
      file: file("alertmanager.yaml"),
      format: "yaml",
    });

    // Custom resources: after the Release, which installs their CRDs and the operator.
    const custom = (res: string, o: K8sObject) =>
      new k8s.apiextensions.CustomResource(res, { ...o }, k8sOpts([release]));
    const scrapes = scrapeConfigs(scrapeInputFor(args, namespace));
    for (const o of scrapes) {
      const job = String((o.spec as { jobName: string }).jobName);
      tagObject(custom(`${name}-scrape-${job}`, o), job, `scrape-${job}`);
    }
    for (const o of meshMonitors({ namespace }))
      tagObject(custom(`${name}-${o.metadata.name}`, o), o.metadata.name, `${o.kind.toLowerCase()}-${o.metadata.name}`);
    for (const o of prometheusRules(rulesInputFor(args))) {
      const rule = custom(`${name}-rules-${o.metadata.name}`, o);
      tagArtifact(rule, {
        kind: "prometheus-rules",
        target: o.metadata.name,
        property: ".",
        file: file(`rules/${o.metadata.name}.yaml`),
        format: "yaml",
      });
    }
    for (const o of dashboardConfigMaps(dashboardsInputFor(args))) {
      const cm = new k8s.core.v1.ConfigMap(
        `${name}-dashboard-${o.metadata.name}`,
        o as unknown as k8s.core.v1.ConfigMapArgs,
        k8sOpts([ns]),
      );
      tagArtifact(cm, {
        kind: "grafana-dashboard",
        target: o.metadata.name,
        property: ".",
        file: file(`dashboards/${o.metadata.name}.yaml`),
        format: "yaml",
      });
    }

    const ui = (s: { name: string; port: number; localPort: number }) => ({
      url: `http://${s.name}.${namespace}.svc:${s.port}`,
      portForward: `kubectl -n ${namespace} port-forward svc/${s.name} ${s.localPort}:${s.port}`,
    });
    const jobs = Object.values(EXPORTERS).map((e) => e.job);
    this.output = {
      namespace,
      release: KUBE_PROMETHEUS_STACK.release,
      chartVersion: args.versions.kubePrometheusStack,
      grafana: { ...ui(SERVICES.grafana), adminUser: GRAFANA_ADMIN.user },
      alertmanager: ui(SERVICES.alertmanager),
      prometheus: ui(SERVICES.prometheus),
      scrapeInterval: m.scrapeInterval,
      evaluationInterval: m.evaluationInterval,
      retention: { ...m.retention },
      replicas: replicasOf(ha),
      scrapeJobs: jobs.flatMap((job) => {
        const o = scrapes.find((s) => (s.spec as { jobName: string }).jobName === job);
        if (!o) return [];
        const hosts = (o.spec as { staticConfigs: { labels: Record<string, string> }[] }).staticConfigs.map(
          (c) => c.labels[TARGET_LABELS.host],
        );
        return [{ job, hosts }];
      }),
    };
    this.registerOutputs({ grafanaAdminPassword: this.grafanaAdminPassword, output: this.output });
  }
}
