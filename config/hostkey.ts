/**
 * SSH host public keys as pinned in the inventory: `<type> <base64>` (the known_hosts
 * form without the host name). The base64 blob starts with the key type again (RFC 4253
 * section 6.6), which catches a key pasted with the wrong type or cut short.
 *
 * Exactly one key and nothing else: no host name before it, no comment after it, no
 * surrounding spaces or newlines. The value is pinned as is (never trimmed), so what
 * passes here is what the SSH client compares.
 */
export const HostKeyTypes = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
] as const;

/** Long enough for a 16384-bit RSA key (about 2,800 base64 characters). */
export const HOST_KEY_MAX_LENGTH = 4096;

const FIX = "paste exactly one line of `ssh-keyscan -t ed25519 <host>` without the host name";

/** Returns why `s` is not a usable host key ("<rule>; <fix>"), or undefined when it is one. */
export function hostKeyProblem(s: string): string | undefined {
  if (s.length > HOST_KEY_MAX_LENGTH) {
    return `is longer than ${HOST_KEY_MAX_LENGTH} characters, more than one host key; ${FIX}`;
  }
  const m = /^([a-z0-9-]{1,32}) ([A-Za-z0-9+/]+={0,2})$/.exec(s);
  if (!m) {
    return `must be exactly one host public key '<type> <base64>', one space between them and nothing before or after; ${FIX}`;
  }
  const [, type, blob] = m;
  if (!(HostKeyTypes as readonly string[]).includes(type)) {
    return `has key type '${type}', which is not one of ${HostKeyTypes.join(", ")}; ${FIX}`;
  }
  const bytes = Buffer.from(blob, "base64");
  if (bytes.length < 4) return `has truncated key data; ${FIX}`;
  const len = bytes.readUInt32BE(0);
  const inner = bytes.subarray(4, 4 + len).toString("latin1");
  if (inner !== type) {
    return `has key data for '${inner.replace(/[^\x20-\x7e]/g, "?").slice(0, 32)}', not '${type}'; copy the whole line from ssh-keyscan`;
  }
  if (type === "ssh-ed25519" && bytes.length !== 4 + len + 4 + 32) {
    return `has ssh-ed25519 key data that is not 32 bytes long; copy the whole line from ssh-keyscan`;
  }
  return undefined;
}
