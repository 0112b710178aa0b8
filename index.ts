// The estate program: validate the stack config once, compose the stack, export outputs.
import { loadEstate } from "./config/load";
import { composeEstate } from "./stacks";

const { estate, secrets } = loadEstate();
const outputs = composeEstate(estate, secrets);

export const schemaVersion = outputs.schemaVersion;
export const site = outputs.site;
export const nodes = outputs.nodes;
export const switches = outputs.switches;
export const fabric = outputs.fabric;
export const frontend = outputs.frontend;
export const ceph = outputs.ceph;
export const kubernetes = outputs.kubernetes;
export const kubeconfig = outputs.kubeconfig;
export const mesh = outputs.mesh;
export const monitoring = outputs.monitoring;
export const grafanaAdminPassword = outputs.grafanaAdminPassword;
