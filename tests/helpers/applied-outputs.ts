/**
 * The stack outputs as `pulumi up` leaves them: the unmodified program under Pulumi's mocks
 * in apply mode (not preview), where every remote command returns a stdout, so values that
 * a preview only knows as unknown (the kubeconfig, preflight's facts) are known, and a
 * secret stays visibly secret. Prints the outputs as JSON with each secret as "[secret]".
 * The secret check of the contract (tests/e2e/contract.test.ts) compares them with the
 * schema's `x-estate-secret` marks. Runs in a process of its own (its own runtime):
 *
 *   ts-node --transpile-only tests/helpers/applied-outputs.ts <stack>
 */
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, runProgram, sanitize } from "../../tools/harness";
import { readStackConfig } from "../../tools/stackconfig";

const PROJECT_DIR = path.resolve(__dirname, "..", "..");

/** What preflight prints on a machine (the shape of components/node/render.ts' JSON). */
export function preflightStdout(host: string): string {
  return `${JSON.stringify({
    host,
    sockets: 2,
    cores: 64,
    memoryKiB: 527_000_000,
    secureBoot: "enabled",
    tpmVersion: "2",
    os: "Debian GNU/Linux 12 (bookworm)",
    kernel: "6.1.0-18-amd64",
    lsblk: {
      blockdevices: [
        {
          name: "nvme0n1",
          path: "/dev/nvme0n1",
          model: "SAMSUNG MZQL21T9HCJR",
          size: 1920383410176,
          serial: "S64GNE0R",
          rota: false,
          type: "disk",
          tran: "nvme",
        },
      ],
    },
    nics: [{ name: "ens1f0", speedMbps: 100000, state: "up", mac: "0c:42:a1:00:00:01" }],
    problems: [],
  })}\n`;
}

const KUBECONFIG = `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0VSVElGSUNBVEU=
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
users:
- name: default
  user:
    client-certificate-data: Q0VSVElGSUNBVEU=
    client-key-data: S0VZ
`;

interface MockMonitor {
  mocks: {
    newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, unknown> };
  };
}

async function main(stack: string): Promise<void> {
  const recorder = installMocks(stack, readStackConfig(PROJECT_DIR, stack), false, { keepInputs: false });
  const mocks = (pulumi.runtime.getMonitor() as unknown as MockMonitor).mocks;
  const base = mocks.newResource.bind(mocks);
  mocks.newResource = (args) => {
    const r = base(args);
    const state = { ...r.state };
    if (args.type === "command:remote:Command") {
      state.stdout = "";
      if (args.name.endsWith("-preflight")) state.stdout = preflightStdout(args.name.replace(/-preflight$/, ""));
      if (args.name.endsWith("-kubeconfig")) state.stdout = KUBECONFIG;
      if (args.name === "ceph-keys")
        state.stdout = JSON.stringify({ csiKey: "AQCSI==", s3AccessKey: "ACCESS", s3SecretKey: "SECRET" });
    }
    if (args.type === "random:index/randomPassword:RandomPassword") state.result = "token";
    if (args.type === "random:index/randomUuid:RandomUuid") state.result = "00000000-0000-4000-8000-000000000000";
    return { ...r, state };
  };
  await runProgram(path.join(PROJECT_DIR, "index.ts"));
  process.stdout.write(`${JSON.stringify(sanitize(recorder.stackOutputs ?? {}))}\n`);
  process.exit(0);
}

if (require.main === module) {
  main(process.argv[2] ?? "dev").catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack : String(e));
    process.exit(1);
  });
}
