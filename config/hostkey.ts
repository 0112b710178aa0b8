/**
 * SSH host public keys as pinned in the inventory: `<type> <base64>` (the known_hosts
 * form without the host name). The base64 blob starts with the key type again (RFC 4253
 * section 6.6), which catches a key pasted with the wrong type or cut short.
 */
export const HostKeyTypes = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
] as const;

/** Returns why `s` is not a usable host key, or undefined when it is one. */
export function hostKeyProblem(s: string): string | undefined {
  const parts = s.trim().split(/\s+/);
  if (parts.length < 2) {
    return "must be a host public key '<type> <base64>', as printed by `ssh-keyscan -t ed25519 <host>` without the host name";
  }
  const [type, blob] = parts;
  if (!(HostKeyTypes as readonly string[]).includes(type)) {
    return `key type '${type}' is not one of ${HostKeyTypes.join(", ")}`;
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) {
    return "the key data is not base64";
  }
  const bytes = Buffer.from(blob, "base64");
  if (bytes.length < 4) return "the key data is truncated";
  const len = bytes.readUInt32BE(0);
  const inner = bytes.subarray(4, 4 + len).toString("latin1");
  if (inner !== type) {
    return `the key data is for '${inner.replace(/[^\x20-\x7e]/g, "?")}', not '${type}': copy the whole line from ssh-keyscan`;
  }
  if (type === "ssh-ed25519" && bytes.length !== 4 + len + 4 + 32) {
    return "the ssh-ed25519 key data is not 32 bytes long: copy the whole line from ssh-keyscan";
  }
  return undefined;
}
