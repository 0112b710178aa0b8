/**
 * Writes files on a thread of its own. The plan creates ~15 files per server; creating a
 * file is kernel time (on this lab's ext4 0.2-0.6 ms each, most of it in inode
 * allocation), which blocked the thread that registers resources. Here the files are
 * handed over in batches and written (and hashed) while registration goes on; `flush`
 * and `close` wait for the last one and report the first failure.
 */
import { Worker } from "worker_threads";

/** The writer thread: batches of [path, text, path, text, ...]; one reply per batch, with each file's SHA-256. */
const THREAD = `
const { parentPort } = require("worker_threads");
const fs = require("fs");
const path = require("path");
const { createHash } = require("crypto");
const dirs = new Set();
parentPort.on("message", (batch) => {
  const hashes = [];
  try {
    for (let i = 0; i < batch.length; i += 2) {
      const dir = path.dirname(batch[i]);
      if (!dirs.has(dir)) {
        fs.mkdirSync(dir, { recursive: true });
        dirs.add(dir);
      }
      fs.writeFileSync(batch[i], batch[i + 1]);
      hashes.push(batch[i], createHash("sha256").update(batch[i + 1]).digest("hex"));
    }
    parentPort.postMessage({ hashes });
  } catch (e) {
    parentPort.postMessage({ error: e instanceof Error ? e.message : String(e) });
  }
});
`;

export class FileWriter {
  private readonly thread: Worker;
  private batch: string[] = [];
  private bytes = 0;
  private inFlight = 0;
  private failure: Error | undefined;
  private idle: (() => void)[] = [];
  private readonly hashes = new Map<string, string>();

  /** @param batchBytes text handed over at once (fewer messages; more held in memory) */
  constructor(private readonly batchBytes = 256 * 1024) {
    this.thread = new Worker(THREAD, { eval: true });
    this.thread.on("message", (m: { hashes?: string[]; error?: string }) => {
      this.inFlight--;
      if (m.error) this.failure ??= new Error(m.error);
      const h = m.hashes ?? [];
      for (let i = 0; i < h.length; i += 2) this.hashes.set(h[i], h[i + 1]);
      this.wake();
    });
    this.thread.on("error", (e) => {
      this.failure ??= e;
      this.inFlight = 0;
      this.wake();
    });
  }

  /** Queues `text` for the absolute path `file` (its folder is created). */
  write(file: string, text: string): void {
    if (this.failure) throw this.failure;
    this.batch.push(file, text);
    this.bytes += text.length;
    if (this.bytes >= this.batchBytes) this.send();
  }

  /** Files written so far, as the thread reported them. */
  get written(): number {
    return this.hashes.size;
  }

  /** The SHA-256 (hex) of what was written to `file`, once `flush` or `close` has returned. */
  sha256(file: string): string | undefined {
    return this.hashes.get(file);
  }

  /** Waits until every queued file is written; throws the first failure. */
  async flush(): Promise<void> {
    this.send();
    if (this.inFlight > 0 && !this.failure) await new Promise<void>((resolve) => this.idle.push(resolve));
    if (this.failure) throw this.failure;
  }

  /** Waits until every queued file is written, then stops the thread; throws the first failure. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.thread.terminate();
    }
  }

  /** Stops the thread; what it had not written yet is dropped. */
  async abort(): Promise<void> {
    this.batch = [];
    await this.thread.terminate();
  }

  private send(): void {
    if (!this.batch.length) return;
    this.inFlight++;
    this.thread.postMessage(this.batch);
    this.batch = [];
    this.bytes = 0;
  }

  private wake(): void {
    if (this.inFlight > 0 && !this.failure) return;
    for (const resolve of this.idle.splice(0)) resolve();
  }
}
