/**
 * The policy pack (policy/) without the CLI: every policy against the dev and prod plans
 * (all pass), and against broken copies of them (each fails with its own message). The
 * arguments are built from the wire form of each registration with @pulumi/policy's own
 * conversion (tests/helpers/policy.ts), as the analyzer server builds them.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import {
  asnsUniqueAcrossTiers,
  bfdOnEveryFabricSession,
  cephReplicasFitHosts,
  hostKeyPinned,
  meshMtlsStrict,
  noSecretInCommand,
  policies,
  prometheusRulesSelected,
  secretValues,
  sshdNoPasswords,
} from "../../policy/policies";
import { SELECTOR_LABEL } from "../../components/monitoring/conventions";
import { policyProps, runPolicy, SECRET_SIG, SIG, type WireResource, wireSecrets, wireView } from "../helpers/policy";
import { PROJECT_DIR } from "../helpers/plan";

type Policy = (typeof policies)[number];

/** A deep copy of `view` with `edit` applied to the resource `pick` selects (unwrapping secret objects). */
function broken(view: readonly WireResource[], pick: (r: WireResource) => boolean, edit: (props: any) => void) {
  const copy = JSON.parse(JSON.stringify(view)) as WireResource[];
  const target = copy.find(pick);
  assert.ok(target, "the resource to break exists");
  edit(target.props);
  return copy;
}

/** The value under a wire secret marker, or the value itself. */
const open = (v: any): any => (v && v[SIG] === SECRET_SIG ? v.value : v);

async function messages(p: Policy, view: readonly WireResource[]): Promise<string[]> {
  const run = await runPolicy(p, view);
  assert.deepEqual(run.unknownReads, [], `${p.name} read a value unknown in preview`);
  return run.violations.map((v) => v.message);
}

async function failsWith(p: Policy, view: readonly WireResource[], want: RegExp): Promise<void> {
  const got = await messages(p, view);
  assert.ok(got.length > 0, `${p.name} passed a broken copy`);
  assert.ok(
    got.some((m) => want.test(m)),
    `${p.name}: no message matches ${want}:\n${got.join("\n")}`,
  );
}

const isStdin = (re: RegExp) => (r: WireResource) =>
  r.type === "command:remote:Command" && typeof r.props.stdin === "string" && re.test(r.props.stdin as string);

/** An istiod Release and a STRICT mesh-wide PeerAuthentication, for stacks where the mesh is not planned yet. */
function withMesh(view: readonly WireResource[]): WireResource[] {
  if (view.some((r) => r.type.endsWith(":PeerAuthentication"))) return [...view];
  const base = { parent: "", provider: "", protect: false, dependencies: [] };
  return [
    ...view,
    {
      ...base,
      urn: "urn:x::istiod",
      type: "kubernetes:helm.sh/v3:Release",
      name: "istiod",
      props: { chart: "istiod", namespace: "istio-system", values: {} },
    },
    {
      ...base,
      urn: "urn:x::mtls",
      type: "kubernetes:security.istio.io/v1:PeerAuthentication",
      name: "mesh-mtls",
      props: {
        apiVersion: "security.istio.io/v1",
        kind: "PeerAuthentication",
        metadata: { name: "default", namespace: "istio-system" },
        spec: { mtls: { mode: "STRICT" } },
      },
    },
  ];
}

/** A kube-prometheus-stack Release selecting by SELECTOR_LABEL and one PrometheusRule carrying it, when not planned yet. */
function withRules(view: readonly WireResource[]): WireResource[] {
  if (view.some((r) => r.type.endsWith(":PrometheusRule"))) return [...view];
  const base = { parent: "", provider: "", protect: false, dependencies: [] };
  const sel = { matchLabels: { [SELECTOR_LABEL.key]: SELECTOR_LABEL.value } };
  return [
    ...view,
    {
      ...base,
      urn: "urn:x::kps",
      type: "kubernetes:helm.sh/v3:Release",
      name: "kube-prometheus-stack",
      props: {
        chart: "kube-prometheus-stack",
        name: "kube-prometheus-stack",
        namespace: "monitoring",
        values: {
          prometheus: {
            prometheusSpec: { ruleSelector: sel, ruleSelectorNilUsesHelmValues: false, ruleNamespaceSelector: {} },
          },
        },
      },
    },
    {
      ...base,
      urn: "urn:x::rule",
      type: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
      name: "estate-rules",
      props: {
        metadata: { name: "estate", namespace: "monitoring", labels: { ...sel.matchLabels } },
        spec: { groups: [] },
      },
    },
  ];
}

for (const stack of ["dev", "prod"] as const) {
  describe(`policy pack on the ${stack} plan`, function () {
    this.timeout(180_000);
    let view: WireResource[];
    before(() => {
      view = wireView(stack);
    });

    for (const p of policies)
      it(`${p.name} passes and applies`, async () => {
        const run = await runPolicy(p, view);
        assert.deepEqual(run.violations, []);
        assert.deepEqual(run.unknownReads, []);
        // Every invariant has something to check in both stacks (the mesh and monitoring tiers included).
        assert.deepEqual(run.notApplicable, [], `${p.name} found nothing to check`);
      });

    it("the secret values the policy knows are every secret the program marks (bar the SSH endpoint and payload hashes)", () => {
      const known = new Set(
        secretValues(view.map((r) => ({ ...r, props: policyProps(r.props) })) as any).map((s) => s.value),
      );
      const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
      const rest = wireSecrets(view).filter((s) => !known.has(s.value) && s.value !== unknown);
      // The SSH connection object is secret as a whole (its private key is), and a secret payload's hash is secret too.
      const benign = /\.connection\.(host|user|hostKey)$|\.triggers\[\d+\]$/;
      assert.deepEqual(
        rest.filter((s) => !benign.test(s.where)).map((s) => s.where),
        [],
      );
      assert.ok(known.size > 0);
    });

    it(`${hostKeyPinned.name}: a command without a pinned host key fails`, async () => {
      const b = broken(
        view,
        (r) => r.name.endsWith("-baseline"),
        (p) => delete open(p.connection).hostKey,
      );
      await failsWith(hostKeyPinned, b, /-baseline: connection to \S+ has no pinned hostKey/);
      const b2 = broken(
        view,
        (r) => r.name.endsWith("-baseline"),
        (p) => (open(p.connection).hostKey = "yes"),
      );
      await failsWith(hostKeyPinned, b2, /has no pinned hostKey/);
    });

    it(`${sshdNoPasswords.name}: password logins on, or no hardening, fails`, async () => {
      const on = broken(view, isStdin(/PasswordAuthentication no/), (p) => {
        p.stdin = p.stdin.replace("PasswordAuthentication no", "PasswordAuthentication yes");
      });
      await failsWith(
        sshdNoPasswords,
        on,
        /sshd_config\.d\/00-estate-hardening\.conf on \S+: PasswordAuthentication is yes \(want no\)/,
      );
      const match = broken(view, isStdin(/PasswordAuthentication no/), (p) => {
        p.stdin = p.stdin.replace(
          "LoginGraceTime 30",
          "LoginGraceTime 30\nMatch User backup\n  PasswordAuthentication yes",
        );
      });
      await failsWith(sshdNoPasswords, match, /a Match block sets PasswordAuthentication yes/);
      const none = broken(view, isStdin(/PasswordAuthentication no/), (p) => {
        p.stdin = p.stdin.replace(/sshd_config\.d/g, "other.d");
      });
      await failsWith(
        sshdNoPasswords,
        none,
        /^host \S+: no command writes an sshd config that turns password logins off$/,
      );
    });

    it(`${asnsUniqueAcrossTiers.name}: a server on the spines' ASN, or two leaves on one, fails`, async () => {
      const spineAsn = /^router bgp (\d+)/m.exec(
        view.find(isStdin(/^! FRR config of spine /m))!.props.stdin as string,
      )![1];
      const b = broken(view, isStdin(/^! FRR config of server /m), (p) => {
        p.stdin = p.stdin.replace(/^router bgp \d+/m, `router bgp ${spineAsn}`);
      });
      await failsWith(
        asnsUniqueAcrossTiers,
        b,
        new RegExp(`^ASN ${spineAsn} is used by more than one tier: .*\\(server\\)`),
      );
      const leaves = view.filter(isStdin(/^! FRR config of leaf /m));
      const leafAsn = /^router bgp (\d+)/m.exec(leaves[0].props.stdin as string)![1];
      const b2 = broken(
        view,
        (r) => r.urn === leaves[1].urn,
        (p) => {
          p.stdin = p.stdin.replace(/^router bgp \d+/m, `router bgp ${leafAsn}`);
        },
      );
      await failsWith(asnsUniqueAcrossTiers, b2, /is shared by .*; each leaf needs its own ASN/);
    });

    it(`${bfdOnEveryFabricSession.name}: a session without BFD fails`, async () => {
      const b = broken(view, isStdin(/^! FRR config of leaf /m), (p) => {
        p.stdin = p.stdin.replace(/^ neighbor \S+ bfd.*\n/gm, "");
      });
      await failsWith(bfdOnEveryFabricSession, b, /^leaf-\S+: BGP session \S+ has no BFD$/);
      const b2 = broken(view, isStdin(/^! FRR config of spine /m), (p) => {
        p.stdin = p.stdin.replace(/^ profile fabric$/m, " profile other");
      });
      await failsWith(bfdOnEveryFabricSession, b2, /BFD profile fabric is used but not defined/);
    });

    it(`${cephReplicasFitHosts.name}: more replicas than hosts of the class, or min_size = size, fails`, async () => {
      const b = broken(view, isStdin(/^pool_sizes=\(/m), (p) => {
        p.stdin = p.stdin.replace(/^pool_sizes=\(\n {2}'\d+'/m, "pool_sizes=(\n  '9'");
      });
      await failsWith(cephReplicasFitHosts, b, /^pool kube-hot: size 9 > \d+ OSD host\(s\) with device class \w+$/);
      const b2 = broken(view, isStdin(/^pool_sizes=\(/m), (p) => {
        p.stdin = p.stdin.replace(/^pool_min_sizes=\(\n {2}'\d+'/m, "pool_min_sizes=(\n  '3'");
      });
      await failsWith(cephReplicasFitHosts, b2, /^pool kube-hot: min_size 3 is not below size 3$/);
    });

    it(`${meshMtlsStrict.name}: PERMISSIVE, or no mesh-wide policy, fails`, async () => {
      const mesh = withMesh(view);
      assert.deepEqual(await messages(meshMtlsStrict, mesh), []);
      const isPa = (r: WireResource) => r.type.endsWith(":PeerAuthentication");
      const b = broken(mesh, isPa, (p) => (p.spec.mtls.mode = "PERMISSIVE"));
      await failsWith(meshMtlsStrict, b, /mtls\.mode is PERMISSIVE, want STRICT/);
      const gone = mesh.filter((r) => !isPa(r));
      await failsWith(
        meshMtlsStrict,
        gone,
        /^no mesh-wide PeerAuthentication \(namespace istio-system, no selector\): mTLS is not STRICT$/,
      );
    });

    it(`${prometheusRulesSelected.name}: a rule without the selector's label fails; the selector comes from the Release's values`, async () => {
      const mon = withRules(view);
      assert.deepEqual(await messages(prometheusRulesSelected, mon), []);
      const isRule = (r: WireResource) => r.type.endsWith(":PrometheusRule");
      const b = broken(mon, isRule, (p) => delete p.metadata.labels[SELECTOR_LABEL.key]);
      await failsWith(
        prometheusRulesSelected,
        b,
        new RegExp(
          `Prometheus will not load it; it lacks label ${SELECTOR_LABEL.key.replace(/\./g, "\\.")}=${SELECTOR_LABEL.value}`,
        ),
      );
      const isKps = (r: WireResource) =>
        r.type === "kubernetes:helm.sh/v3:Release" && /kube-prometheus-stack$/.test(String(r.props.chart));
      const b2 = broken(mon, isKps, (p) => {
        open(p.values).prometheus.prometheusSpec.ruleSelector = { matchLabels: { team: "other" } };
      });
      await failsWith(prometheusRulesSelected, b2, /lacks label team=other/);
    });

    it(`${noSecretInCommand.name}: a secret value or a credential shape in a command string fails`, async () => {
      const sshKey = open(view.find((r) => r.name.endsWith("-baseline"))!.props.connection).privateKey as string;
      const b = broken(
        view,
        (r) => r.name.endsWith("-baseline"),
        (p) => (p.update = `${p.update} ${sshKey}`),
      );
      await failsWith(
        noSecretInCommand,
        b,
        /-baseline: 'update' contains the secret value of \S+ connection\.privateKey; send it as stdin/,
      );
      const pem = fs.readFileSync(path.join(PROJECT_DIR, "tests/fixtures/plan-only-tls.key"), "utf8");
      const b2 = broken(
        view,
        (r) => r.name.endsWith("-preflight"),
        (p) => (p.create = `echo '${pem}' > /tmp/k`),
      );
      await failsWith(noSecretInCommand, b2, /-preflight: 'create' contains a PEM private key; send it as stdin/);
      const b3 = broken(
        view,
        (r) => r.name.endsWith("-preflight"),
        (p) => (p.create = `k3s agent --token K10${"ab".repeat(32)}::server:x`),
      );
      await failsWith(noSecretInCommand, b3, /'create' contains a K3s join token/);
    });
  });
}
