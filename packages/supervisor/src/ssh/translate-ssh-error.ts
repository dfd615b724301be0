import { MalocherError } from "@malocher/protocol";
import type { HostKeyVerdict } from "./known-hosts.js";
import type { NodeTarget } from "./node-target.js";

const UNREACHABLE_CODES = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET"]);

/** The `[host]:port` form OpenSSH uses in known_hosts and in `ssh-keygen -R`. */
function knownHostsName(target: NodeTarget): string {
  return target.port === 22 ? target.host : `[${target.host}]:${target.port}`;
}

/**
 * The one place where ssh2's and the OS's errors become Malocher's: each with a code a caller
 * can switch on and a message that says what to do.
 */
export function translateSshError(
  error: Error & { level?: string; code?: string },
  target: NodeTarget,
  verdict: HostKeyVerdict | undefined,
  offeredKey: string | undefined,
): MalocherError {
  const where = `${target.label} (${target.username}@${target.host}:${target.port})`;
  const name = knownHostsName(target);
  if (verdict !== undefined && verdict.kind !== "match") {
    if (verdict.kind === "unknown") {
      return new MalocherError(
        "SSH_HOST_KEY_UNKNOWN",
        `The host key of ${where} is not in ${target.knownHostsFile} (it offered ${offeredKey}). ` +
          `If that fingerprint is the machine's, add its key, e.g. with \`ssh -p ${target.port} ${target.username}@${target.host}\` ` +
          `once, or \`ssh-keyscan -p ${target.port} ${target.host} >> ${target.knownHostsFile}\` after checking it.`,
        { cause: error },
      );
    }
    if (verdict.kind === "revoked") {
      return new MalocherError(
        "SSH_HOST_KEY_MISMATCH",
        `${where} offered a host key that ${target.knownHostsFile} marks @revoked (line ${verdict.line}). Refusing to connect.`,
        { cause: error },
      );
    }
    return new MalocherError(
      "SSH_HOST_KEY_MISMATCH",
      `The host key of ${where} has CHANGED: it offered ${offeredKey}, but ${target.knownHostsFile} ` +
        `(line ${verdict.lines.join(", ")}) holds another. Someone may be intercepting the connection, or the machine ` +
        `was reinstalled. If you know it was, remove the old key with \`ssh-keygen -R '${name}' -f ${target.knownHostsFile}\` and connect again.`,
      { cause: error },
    );
  }
  if (error.level === "client-authentication") {
    return new MalocherError(
      "SSH_AUTH_FAILED",
      `${where} refused to log in user ${target.username} with ${target.useAgent ? "the ssh-agent's keys and " : ""}` +
        `${target.identityFiles.join(", ")}. Check the user name and that the public key is in that user's ~/.ssh/authorized_keys there.`,
      { cause: error },
    );
  }
  if (error.level === "client-timeout") {
    return new MalocherError(
      "SSH_UNREACHABLE",
      `${where} did not complete the SSH handshake in time. Check that an SSH server listens on that port.`,
      { cause: error },
    );
  }
  if ((error.code !== undefined && UNREACHABLE_CODES.has(error.code)) || error.level === "client-socket" || error.level === "client-dns") {
    return new MalocherError(
      "SSH_UNREACHABLE",
      `Cannot reach ${where}: ${error.message}. Check the host name and port, and that sshd runs there.`,
      { cause: error },
    );
  }
  return new MalocherError("SSH_FAILED", `SSH to ${where} failed: ${error.message}`, { cause: error });
}
