/**
 * Certificates the labs make for themselves: a throwaway self-signed P-256 certificate
 * for one DNS name, valid two days, its key readable by the unprivileged daemons that
 * serve it.
 */
import * as fs from "fs";
import * as path from "path";
import { run } from "./netns";

/** Writes `<base>.crt` and `<base>.key` into `dir` for `name`; returns their paths. */
export function selfSignedCertificate(dir: string, base: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${base}.crt`);
  const key = path.join(dir, `${base}.key`);
  run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-addext",
    `subjectAltName=DNS:${name}`,
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  fs.chmodSync(key, 0o644);
  return { cert, key };
}
