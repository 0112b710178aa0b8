/** Nginx's stream module, which Debian builds apart (libnginx-mod-stream). */
import { spawnSync } from "child_process";
import * as fs from "fs";
import { requireTool } from "./tools";

export const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

/** Makes sure nginx and its stream module exist (installed as root), or fails saying what to install. */
export function requireStreamModule(): void {
  requireTool("nginx", "nginx");
  if (fs.existsSync(STREAM_MODULE)) return;
  if (process.getuid?.() === 0)
    spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "libnginx-mod-stream"], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  if (!fs.existsSync(STREAM_MODULE))
    throw new Error("Nginx's stream module is required: apt-get install libnginx-mod-stream (Debian)");
}
