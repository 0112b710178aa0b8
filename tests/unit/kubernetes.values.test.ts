/**
 * Chart values and objects of the Kubernetes cluster against the pinned charts: every key
 * set exists in the chart's defaults (a misspelled key is caught), the tigera-operator
 * `installation` validates against the Installation CRD's `spec` schema with unknown
 * fields rejected, the CSI key is never a value, and the application namespaces' policy
 * admits exactly DNS, istiod, the monitoring scrape and the ingress gateway.
 */
import { strict as assert } from "assert";
import {
  calicoValues,
  csiSecretObject,
  csiValues,
  defaultDenyPolicy,
  storageClassObject,
} from "../../components/kubernetes/values";
import { compileSchema, crdSchema, loadRef as load, unknownKeys, type Validator } from "../helpers/reference";

describe("Kubernetes chart values and objects", () => {
  const calico = calicoValues({ podCidr: "10.42.0.0/16", serviceCidr: "10.43.0.0/16" });
  const csi = csiValues({ clusterId: "2f0b3c1e-0000-4000-8000-000000000000", monitors: ["10.255.0.66:6789"] });
  let validateInstallation: Validator;

  before(() => {
    const crd = crdSchema(
      [load("tigera-operator/v3.32.1/crds/operator.tigera.io_installations.yaml")],
      "Installation",
    ) as { properties: { spec: Record<string, unknown> } };
    validateInstallation = compileSchema(crd.properties.spec);
  });

  const installationErrors = (installation: Record<string, unknown>): string[] => {
    // `enabled` is the chart's switch, not part of the Installation it renders.
    const spec = Object.fromEntries(Object.entries(installation).filter(([k]) => k !== "enabled"));
    return validateInstallation(spec);
  };

  it("sets only tigera-operator keys that its defaults have (installation.* is the CRD's)", () => {
    const defaults = load("tigera-operator/v3.32.1/values.yaml");
    assert.deepEqual(unknownKeys(calico, defaults, ["installation"]), []);
    assert.deepEqual(unknownKeys({ ...calico, goldmain: { enabled: false } }, defaults, ["installation"]), [
      "goldmain",
    ]);
  });

  it("validates the Installation against the CRD's spec schema, unknown fields rejected", () => {
    const installation = calico.installation as Record<string, unknown>;
    assert.deepEqual(installationErrors(installation), []);
    const network = installation.calicoNetwork as Record<string, unknown>;
    const misspelt = { ...installation, calicoNetwork: { ...network, ipPool: network.ipPools } };
    assert.equal(installationErrors(misspelt).length, 1);
    assert.match(installationErrors(misspelt)[0], /additionalProperty":"ipPool"/);
    const badEnum = { ...installation, calicoNetwork: { ...network, bgp: "Off" } };
    assert.match(
      installationErrors(badEnum).join("\n"),
      /\/calicoNetwork\/bgp must be equal to one of the allowed values/,
    );
  });

  it("turns Calico's BGP off (FRR holds port 179) and encapsulates pod traffic in VXLAN over the pod CIDR", () => {
    const network = (calico.installation as { calicoNetwork: Record<string, unknown> }).calicoNetwork;
    assert.equal(network.bgp, "Disabled");
    assert.deepEqual(network.ipPools, [
      {
        name: "default-ipv4-ippool",
        cidr: "10.42.0.0/16",
        encapsulation: "VXLAN",
        natOutgoing: "Enabled",
        nodeSelector: "all()",
        blockSize: 26,
      },
    ]);
    assert.deepEqual(network.nodeAddressAutodetectionV4, { kubernetes: "NodeInternalIP" });
  });

  it("sets only ceph-csi-rbd keys that its defaults have, and never the key", () => {
    const defaults = load("ceph-csi-rbd/3.12.2/values.yaml");
    assert.deepEqual(unknownKeys(csi, defaults), []);
    assert.deepEqual(unknownKeys({ ...csi, provisioner: { replicas: 2 } }, defaults), ["provisioner.replicas"]);
    assert.deepEqual(csi.secret, { create: false });
    assert.doesNotMatch(JSON.stringify(csi), /userKey|AQ[A-Za-z0-9+/]{30,}/);
    assert.deepEqual(csi.csiConfig, [
      { clusterID: "2f0b3c1e-0000-4000-8000-000000000000", monitors: ["10.255.0.66:6789"] },
    ]);
  });

  it("makes the CSI Secret and StorageClasses refer to each other by name and namespace", () => {
    const secret = csiSecretObject("kubernetes", "KEY") as { metadata: { name: string; namespace: string } };
    const sc = storageClassObject({ pool: "kube-hot", default: true }, "FSID") as {
      metadata: { annotations: Record<string, string> };
      parameters: Record<string, string>;
      provisioner: string;
    };
    assert.equal(sc.provisioner, "rbd.csi.ceph.com");
    assert.equal(sc.metadata.annotations["storageclass.kubernetes.io/is-default-class"], "true");
    assert.equal(sc.parameters.clusterID, "FSID");
    assert.equal(sc.parameters.pool, "kube-hot");
    for (const p of ["provisioner", "controller-expand", "node-stage"]) {
      assert.equal(sc.parameters[`csi.storage.k8s.io/${p}-secret-name`], secret.metadata.name);
      assert.equal(sc.parameters[`csi.storage.k8s.io/${p}-secret-namespace`], secret.metadata.namespace);
    }
    const warm = storageClassObject({ pool: "kube-warm", default: false }, "FSID") as {
      metadata: { annotations: Record<string, string> };
    };
    assert.equal(warm.metadata.annotations["storageclass.kubernetes.io/is-default-class"], "false");
  });

  it("denies everything in an application namespace except DNS, istiod, the scrape and the ingress gateway", () => {
    const p = defaultDenyPolicy("apps") as {
      metadata: { namespace: string };
      spec: {
        podSelector: object;
        policyTypes: string[];
        egress: { to: { namespaceSelector: { matchLabels: Record<string, string> } }[]; ports: object[] }[];
        ingress: { from: { namespaceSelector: { matchLabels: Record<string, string> } }[]; ports?: object[] }[];
      };
    };
    assert.equal(p.metadata.namespace, "apps");
    assert.deepEqual(p.spec.podSelector, {});
    assert.deepEqual(p.spec.policyTypes, ["Ingress", "Egress"]);
    const ns = (r: { to?: unknown; from?: unknown }) =>
      ((r.to ?? r.from) as { namespaceSelector: { matchLabels: Record<string, string> } }[]).map(
        (x) => x.namespaceSelector.matchLabels["kubernetes.io/metadata.name"],
      );
    assert.deepEqual(
      p.spec.egress.map((r) => `${ns(r).join()} ${JSON.stringify(r.ports)}`),
      [
        'kube-system [{"protocol":"UDP","port":53},{"protocol":"TCP","port":53}]',
        'istio-system [{"protocol":"TCP","port":15012}]',
      ],
    );
    assert.deepEqual(
      p.spec.ingress.map((r) => `${ns(r).join()} ${JSON.stringify(r.ports ?? "any")}`),
      ['monitoring [{"protocol":"TCP","port":15090},{"protocol":"TCP","port":15020}]', 'istio-ingress "any"'],
    );
  });
});
