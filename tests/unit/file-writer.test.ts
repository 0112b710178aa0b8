/**
 * tools/file-writer.ts: the plan's files are written on a thread of their own; `close`
 * returns only when every one is on disk, and a failure is not lost.
 */
import { strict as assert } from "assert";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { FileWriter } from "../../tools/file-writer";

describe("FileWriter (tools/file-writer.ts)", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "estate-writer-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("has written every file, folders included, and knows its SHA-256 when close returns", async () => {
    const w = new FileWriter(1024); // small batches: many messages
    const want = new Map<string, string>();
    for (let i = 0; i < 300; i++) {
      const file = path.join(dir, `h${i % 17}`, `sub${i % 3}`, `f${i}.sh`);
      const text = `#!/bin/bash\necho ${i}\n${"x".repeat(i * 7)}\n`;
      want.set(file, text);
      w.write(file, text);
    }
    await w.close();
    assert.equal(w.written, 300);
    for (const [file, text] of want)
      assert.equal(w.sha256(file), createHash("sha256").update(text).digest("hex"), file);
    for (const [file, text] of want) assert.equal(fs.readFileSync(file, "utf8"), text, file);
  });

  it("reports the first failure at close (a file where a folder must be)", async () => {
    fs.writeFileSync(path.join(dir, "taken"), "a file");
    const w = new FileWriter(1);
    w.write(path.join(dir, "ok", "a"), "a");
    w.write(path.join(dir, "taken", "b"), "b");
    await assert.rejects(() => w.close(), /ENOTDIR|EEXIST/);
    assert.equal(fs.readFileSync(path.join(dir, "ok", "a"), "utf8"), "a");
  });

  it("refuses further files once a batch has failed", async () => {
    fs.writeFileSync(path.join(dir, "taken"), "a file");
    const w = new FileWriter(1);
    w.write(path.join(dir, "taken", "b"), "b");
    await assert.rejects(() => w.close(), /ENOTDIR|EEXIST/);
    assert.throws(() => w.write(path.join(dir, "c"), "c"), /ENOTDIR|EEXIST/);
  });

  it("abort stops the thread; nothing is written after it returns", async () => {
    const w = new FileWriter(1 << 20); // one batch, never sent
    w.write(path.join(dir, "never"), "x");
    await w.abort();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(fs.existsSync(path.join(dir, "never")), false);
  });
});
