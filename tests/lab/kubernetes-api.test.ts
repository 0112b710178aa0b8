/**
 * The API endpoint for real: Nginx runs the rendered `stream` block with three stand-in
 * K3s servers (TCP listeners on 127.0.0.2-4:6443, each answering its name), and every
 * connection through the endpoint still succeeds after any one of them dies. Only the
 * listen address differs from a balancer (127.0.0.1 instead of the VIP).
 */
import { strict as assert } from "assert";
import { type ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { renderApiStream } from "../../components/kubernetes/render";
import { requireStreamModule, STREAM_MODULE } from "../helpers/nginx-stream";

function standIn(address: string, name: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.end(`${name}\n`));
    server.once("error", reject);
    server.listen(6443, address, () => resolve(server));
  });
}

function ask(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: 6443 });
    let data = "";
    socket.setTimeout(5000, () => socket.destroy(new Error("timeout")));
    socket.on("data", (d) => (data += d.toString()));
    socket.on("end", () => resolve(data.trim()));
    socket.on("error", reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("lab: the Kubernetes API endpoint (Nginx stream) survives the loss of any one server", function () {
  this.timeout(60000);
  const servers = [
    { name: "ctl-1", address: "127.0.0.2" },
    { name: "ctl-2", address: "127.0.0.3" },
    { name: "ctl-3", address: "127.0.0.4" },
  ];

  for (const dead of servers) {
    it(`answers every connection with ${dead.name} down`, async () => {
      requireStreamModule();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "k3s-api-"));
      const listeners = new Map<string, net.Server>();
      let nginx: ChildProcess | undefined;
      try {
        for (const s of servers) listeners.set(s.name, await standIn(s.address, s.name));
        const conf = path.join(dir, "nginx.conf");
        fs.writeFileSync(
          conf,
          `load_module ${STREAM_MODULE};\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\ndaemon off;\nevents {}\n` +
            renderApiStream({ vip: "127.0.0.1", servers }),
        );
        nginx = spawn("nginx", ["-p", `${dir}/`, "-c", conf], { stdio: "ignore" });
        for (let i = 0; i < 50 && !fs.existsSync(path.join(dir, "nginx.pid")); i++) await sleep(100);
        const before = new Set<string>();
        for (let i = 0; i < 6; i++) before.add(await ask());
        assert.deepEqual([...before].sort(), ["ctl-1", "ctl-2", "ctl-3"], "round robin over all three");

        await new Promise<void>((r) => listeners.get(dead.name)!.close(() => r()));
        listeners.delete(dead.name);
        const after: string[] = [];
        for (let i = 0; i < 12; i++) after.push(await ask());
        assert.ok(!after.includes(dead.name));
        assert.deepEqual(
          [...new Set(after)].sort(),
          servers.filter((s) => s !== dead).map((s) => s.name),
        );
      } finally {
        if (nginx?.pid) process.kill(nginx.pid, "SIGTERM");
        for (const l of listeners.values()) l.close();
        await sleep(200);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
