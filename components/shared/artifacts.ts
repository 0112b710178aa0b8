/**
 * Which resource inputs carry generated text or structured payloads (scripts, configs,
 * Helm values, Kubernetes objects), and what they are.
 *
 * Components tag the resources they create; the offline plan reads the tagged input
 * properties from what was actually registered, so the artifacts it writes are exactly
 * what `pulumi up` would send. Nothing is rendered a second time. Under the real CLI the
 * tags are only a small in-memory list.
 *
 * Two formats:
 * - `text` (default): the input is a string (a script, a config file); written as is.
 * - `yaml`: the input is an object (a Helm Release's `values`, a Kubernetes object's whole
 *   input with `property: "."`), written by the plan with `toYaml`; or a string that is
 *   already YAML from `toYaml` (a spec sent as a command's stdin), written as is. Secret
 *   or unknown parts of an object are written as `[secret]` / `[unknown]` in their place.
 */
import type * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";

export type ArtifactKind =
  | "shell"
  | "frr"
  | "nginx"
  | "keepalived"
  | "k3s-config"
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

export type ArtifactFormat = "text" | "yaml";

export interface ArtifactTag {
  readonly kind: ArtifactKind;
  /** Host, switch, release or namespace the artifact is for. */
  readonly target: string;
  /**
   * The input property of the resource that carries the artifact: a name, a dotted path
   * for nested inputs (`values.global`), or `"."` for the resource's whole input.
   */
  readonly property: string;
  /** Path under `artifacts/`, e.g. `nodes/ctl-1/baseline.sh` or `mesh/istiod.values.yaml`. */
  readonly file: string;
  /** @default "text" */
  readonly format?: ArtifactFormat;
}

/**
 * The one YAML form of structured payloads: sorted keys (no spurious diffs), no anchors,
 * no line folding. Use it for a payload sent as text (a command's stdin) so that the
 * artifact is that exact text; the plan writes tagged objects with it too.
 */
export function toYaml(payload: unknown): string {
  return yaml.dump(payload, { sortKeys: true, noRefs: true, lineWidth: -1 });
}

const tags: { resource: pulumi.Resource; tag: ArtifactTag }[] = [];

/** Tag `resource` right after creating it: the plan reads the input when the resource registers. */
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
