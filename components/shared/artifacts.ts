/**
 * Which resource inputs carry generated text (scripts, configs, values), and what they are.
 *
 * Components tag the resources they create; the offline plan reads the tagged input
 * properties from what was actually registered, so the artifacts it writes are exactly
 * what `pulumi up` would send. Nothing is rendered a second time. Under the real CLI the
 * tags are only a small in-memory list.
 */
import type * as pulumi from "@pulumi/pulumi";

export type ArtifactKind =
  | "shell"
  | "frr"
  | "nginx"
  | "keepalived"
  | "nftables"
  | "systemd"
  | "helm-values"
  | "k8s-object"
  | "prometheus-rules"
  | "alertmanager"
  | "cephadm-spec"
  /** A value a script reads (an id, a key's public half), not a config of its own. */
  | "data"
  | "grafana-dashboard";

export interface ArtifactTag {
  readonly kind: ArtifactKind;
  /** Host, switch, release or namespace the text is for. */
  readonly target: string;
  /** The input property of the resource that carries the text (a dotted path for nested inputs). */
  readonly property: string;
  /** Path under `artifacts/`, e.g. `nodes/ctl-1/baseline.sh`. */
  readonly file: string;
}

const tags: { resource: pulumi.Resource; tag: ArtifactTag }[] = [];

export function tagArtifact(resource: pulumi.Resource, tag: ArtifactTag): void {
  tags.push({ resource, tag });
}

export function taggedArtifacts(): readonly { resource: pulumi.Resource; tag: ArtifactTag }[] {
  return tags;
}

/** For runs of several programs in one process (tests, benchmarks). */
export function clearArtifactTags(): void {
  tags.length = 0;
}
