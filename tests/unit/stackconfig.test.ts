/**
 * Stack files as the plan reads them: YAML errors name the file, line and column; alias
 * expansion is bounded; a `config:` that is not a map, or a key outside the namespaces the
 * program reads, is one clear line.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadYamlFile, MAX_ALIAS_EXPANSION, readStackConfig, StackFileError } from "../../tools/stackconfig";

const PROJECT_DIR = path.resolve(__dirname, "..", "..");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "estate-stackconfig-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

/** The one line a stack file fails with. */
function failure(text: string): string {
  const file = write("Pulumi.t.yaml", text);
  try {
    readStackConfig(PROJECT_DIR, "t", file);
  } catch (e) {
    assert.ok(e instanceof StackFileError, `a StackFileError, not ${String(e)}`);
    assert.doesNotMatch(e.message, /\n/, "one line");
    return e.message.replace(`${file}`, "FILE");
  }
  throw new Error("expected the stack file to be refused");
}

/** A "billion laughs" document: `levels` levels of `fan` aliases to the level below. */
function aliasBomb(levels: number, fan: number): string {
  const lines = ["config:", '  estate:lol0: &a0 "lol"'];
  for (let i = 1; i <= levels; i++)
    lines.push(`  estate:lol${i}: &a${i} [${Array.from({ length: fan }, () => `*a${i - 1}`).join(", ")}]`);
  return `${lines.join("\n")}\n`;
}

describe("stack files: YAML errors", () => {
  it("a duplicate key names the file, line and column", () => {
    assert.equal(
      failure("config:\n  estate:site:\n    domain: a.example\n  estate:site:\n    domain: b.example\n"),
      "FILE:4:3: duplicated mapping key; each key may appear once in a map: remove or merge the repeated one",
    );
  });

  it("an unknown tag names the file, line and column", () => {
    assert.equal(
      failure("config:\n  estate:site: !Ref site\n"),
      "FILE:2:25: unknown tag !<!Ref>; stack files use no YAML tags: remove the tag, or quote the value if it is text",
    );
  });

  it("a syntax error names the file, line and column", () => {
    assert.equal(
      failure('config:\n  estate:site:\n    domain: "a.example\n  estate:ssh: {}\n'),
      "FILE:5:1: unexpected end of the stream within a double quoted scalar; fix the YAML there (indentation, quoting, a missing ':')",
    );
  });

  it("a second document is refused", () => {
    const rest =
      "expected a single document in the stream, but found more; a stack file is one YAML document: remove the extra '---'";
    assert.equal(failure("config: {}\n---\nconfig: {}\n"), `FILE:2:1: ${rest}`);
    assert.equal(failure("# c\n---\nconfig: {}\n---\nconfig: {}\n"), `FILE:4:1: ${rest}`);
  });

  it("refuses an alias bomb in well under 2 s, and accepts a few aliases", function () {
    this.timeout(10000);
    const started = process.hrtime.bigint();
    const line = failure(aliasBomb(9, 10)); // 10^9 strings once expanded
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`      figure stackconfig.alias_bomb_rejected ${seconds.toFixed(3)} s`);
    assert.equal(
      line,
      `FILE:3:21: aliases expand the document by more than ${MAX_ALIAS_EXPANSION} nodes (an alias bomb?); write the values out instead of aliasing them`,
    );
    assert.ok(seconds < 2, `${seconds} s`);
    // A handful of aliases, as a person might write, stays fine.
    const file = write("Pulumi.few.yaml", aliasBomb(2, 3));
    assert.deepEqual(loadYamlFile(file), {
      config: {
        "estate:lol0": "lol",
        "estate:lol1": ["lol", "lol", "lol"],
        "estate:lol2": [
          ["lol", "lol", "lol"],
          ["lol", "lol", "lol"],
          ["lol", "lol", "lol"],
        ],
      },
    });
  });
});

describe("stack files: shape", () => {
  it("config that is not a map", () => {
    assert.equal(
      failure("config:\n  - estate:site\n"),
      "FILE: config: a list must be a map of keys to values; write one 'estate:<key>: <value>' per line under 'config:'",
    );
    assert.equal(
      failure("config: estate\n"),
      `FILE: config: "estate" must be a map of keys to values; write one 'estate:<key>: <value>' per line under 'config:'`,
    );
  });

  it("a file that is not a map", () => {
    assert.equal(
      failure("- config\n"),
      "FILE: a list must be a map with a 'config:' key; start the file with 'config:'",
    );
  });

  it("a key outside the namespaces the program reads, or without one", () => {
    const rule = "is not in a namespace this program reads (estate, kubernetes, command, random, pulumi)";
    assert.equal(failure("config:\n  estat:site: {}\n"), `FILE: config.estat:site: ${rule}; write estate:site`);
    assert.equal(failure("config:\n  site: {}\n"), `FILE: config.site: ${rule}; write estate:site`);
  });

  it("reads a valid stack file, with provider namespaces and secure values", () => {
    const file = write(
      "Pulumi.ok.yaml",
      "config:\n  estate:site:\n    domain: ok.example\n  kubernetes:context: lab\n  estate:sshPrivateKey:\n    secure: AAAA\n",
    );
    const c = readStackConfig(PROJECT_DIR, "ok", file);
    assert.equal(c.values["estate:site"], '{"domain":"ok.example"}');
    assert.equal(c.values["kubernetes:context"], "lab");
    assert.ok(c.secretKeys.includes("estate:sshPrivateKey"));
    assert.ok(c.placeholders.includes("estate:sshPrivateKey"));
  });
});
