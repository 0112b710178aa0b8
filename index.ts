// The estate program: validate the stack config once, compose the stack, export outputs.
// An async program: the Pulumi Node.js runtime calls the exported function, awaits it and
// exports what it returns. Composing waits between phases in a preview (stacks/phase.ts).
import { loadEstate } from "./config/load";
import { composeEstate } from "./stacks";

export = async () => {
  const { estate, secrets } = loadEstate();
  const outputs = await composeEstate(estate, secrets);
  return {
    schemaVersion: outputs.schemaVersion,
    site: outputs.site,
    nodes: outputs.nodes,
    switches: outputs.switches,
    fabric: outputs.fabric,
    frontend: outputs.frontend,
    ceph: outputs.ceph,
    kubernetes: outputs.kubernetes,
    kubeconfig: outputs.kubeconfig,
    mesh: outputs.mesh,
    monitoring: outputs.monitoring,
    grafanaAdminPassword: outputs.grafanaAdminPassword,
  };
};
