import { homedir, userInfo } from "node:os";
import { join } from "node:path";

/** What OpenSSH's client uses when nothing else is said. */
export function opensshDefaults() {
  const home = homedir();
  const expandHome = (path: string) => (path === "~" ? home : path.startsWith("~/") ? join(home, path.slice(2)) : path);
  return {
    port: 22,
    username: userInfo().username,
    knownHostsFile: join(home, ".ssh", "known_hosts"),
    identityFiles: ["id_rsa", "id_ecdsa", "id_ed25519"].map((name) => join(home, ".ssh", name)),
    agentSocket: process.env["SSH_AUTH_SOCK"] || undefined,
    expandHome,
  };
}
