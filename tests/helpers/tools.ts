/**
 * Debian tools the tests run. A missing tool is installed when the tests run as root
 * with apt-get available (CI, a fresh machine); otherwise the test fails and says what
 * to install. Never a silent skip.
 */
import { spawnSync } from "child_process";

const ensured = new Set<string>();

function have(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Makes sure `cmd` exists, installing Debian `pkg` when it can. */
export function requireTool(cmd: string, pkg: string): void {
  if (ensured.has(cmd) || have(cmd)) {
    ensured.add(cmd);
    return;
  }
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  if (root && have("apt-get")) {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    const r = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", pkg], { stdio: "inherit", env });
    if (r.status === 0 && have(cmd)) {
      ensured.add(cmd);
      return;
    }
  }
  throw new Error(`${cmd} is required by this test: install it with 'apt-get install ${pkg}' (Debian)`);
}
