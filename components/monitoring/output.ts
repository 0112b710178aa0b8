/**
 * The stack output `monitoring`: its definition and its type. Grafana's admin password is
 * never part of it (a separate secret output, `grafanaAdminPassword`).
 *
 * The UIs are reached inside the cluster: each entry has the Service's in-cluster URL and
 * the `kubectl port-forward` line (with the kubeconfig output) that brings it to localhost.
 * They are not published through the ingress gateway: that would put Grafana and an
 * unauthenticated Alertmanager on the estate's public VIP.
 */
import { z } from "zod";
import { Name } from "../shared/output";

const Ui = z.strictObject({
  url: z
    .string()
    .regex(/^http:\/\/[a-z0-9-]+\.[a-z0-9-]+\.svc:\d+$/)
    .describe("the Service's URL inside the cluster"),
  portForward: z
    .string()
    .regex(/^kubectl -n [a-z0-9-]+ port-forward svc\/[a-z0-9-]+ \d+:\d+$/)
    .describe("brings it to http://localhost:<port> (kubeconfig: the secret output kubeconfig)"),
});

const Duration = z.string().regex(/^[1-9]\d*(ms|s|m|h|d|w|y)$/);

export const MonitoringOutput = z
  .strictObject({
    namespace: z.string().min(1),
    release: z.string().min(1).describe("the kube-prometheus-stack Helm release"),
    chartVersion: z.string().regex(/^\d+\.\d+\.\d+$/),
    grafana: Ui.extend({
      adminUser: z
        .string()
        .min(1)
        .describe("the admin's login; the password is the secret output grafanaAdminPassword"),
    }),
    alertmanager: Ui,
    prometheus: Ui,
    scrapeInterval: Duration,
    evaluationInterval: Duration,
    retention: z.strictObject({
      time: Duration,
      size: z.string().regex(/^\d+(MiB|GiB|TiB)$/),
    }),
    replicas: z.strictObject({ prometheus: z.int().min(1), alertmanager: z.int().min(1) }),
    scrapeJobs: z
      .array(
        z.strictObject({
          job: z.string().min(1),
          hosts: z.array(Name).min(1).describe("the hosts scraped, by inventory name"),
        }),
      )
      .describe("the jobs of the hosts outside the cluster (ScrapeConfigs derived from the model)"),
  })
  .meta({
    description:
      "Monitoring (kube-prometheus-stack): where Grafana, Alertmanager and Prometheus are reached, intervals, retention and what is scraped; the Grafana admin password is a secret output of its own.",
  });
export type MonitoringOutput = z.infer<typeof MonitoringOutput>;
