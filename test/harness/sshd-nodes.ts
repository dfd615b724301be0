/**
 * Test harness: real OpenSSH servers on loopback addresses 127.0.0.2, 127.0.0.3, ..., each standing
 * in for one cluster node with its own host key. The TypeScript twin of the lab script
 * `sshd-nodes.sh`, with a per-cluster free port, a temp state directory and
 * waiting for readiness instead of hoping for it.
 *
 * Needs `/usr/sbin/sshd` and `ssh-keygen`, and (for the privilege-separation directory and
 * logging in as anyone) normally root.
 *
 * With `sshfsShare` (see {@link SshNodesOptions.sshfsShare}) every node instead sees one directory
 * through its own sshfs mount, served over SFTP by an extra sshd on 127.0.0.250: the recipe of
 * "Testing over a real network file system" in DESIGN.md. That mode needs root, `unshare`,
 * `sshfs`, `pgrep` and `/dev/fuse`.
 */
import { execFile, spawn } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";
import * as fs from "node:fs/promises";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

const SSHD = "/usr/sbin/sshd";
/** How long a daemon gets to start accepting, or to go away, before we give up. */
const DEADLINE_MS = 10_000;
/** After SIGTERM, how long before SIGKILL. */
const TERM_GRACE_MS = 5_000;
const POLL_MS = 20;
const PORT_ATTEMPTS = 5;
/** Where the file server of the sshfs mode listens (on the cluster's port). */
const FILE_SERVER_ADDRESS = "127.0.0.250";
/**
 * Mount options of every node's sshfs, chosen so that the share behaves like one file system for
 * a job queue, measured on sshfs 3.7.3 / libfuse 3.14 (host writes, node looks right after):
 * - `dir_cache=no`: sshfs's own cache of names and attributes (20 s) would hide files other hosts
 *   create and show files they deleted.
 * - `entry_timeout=0,attr_timeout=0,negative_timeout=0`: the kernel's FUSE caches of names and
 *   attributes (1 s by default). With them a node still stats a file the host has deleted, and
 *   reads a rewritten file with its old size (so truncated or stale content).
 * - NOT `kernel_cache` / `auto_cache`: the page cache is dropped at every open (close-to-open
 *   consistency). With either of them a file replaced by `rename(tmp, name)` or rewritten with the
 *   same size in the same second (SFTP mtimes have 1 s resolution) is read with its old content.
 * - NOT `workaround=rename`: OpenSSH's `posix-rename@openssh.com` already makes rename() replace an
 *   existing target atomically on the server; the workaround would make it non-atomic.
 */
const SSHFS_MOUNT_OPTIONS = "dir_cache=no,entry_timeout=0,attr_timeout=0,negative_timeout=0";
/** Exit status of {@link SSHFS_NODE_SCRIPT} when sshfs failed (the script's `exit 97`). */
const SSHFS_FAILED = 97;
/**
 * Runs inside the node's fresh private mount namespace (`sh -c SCRIPT sh share source port options
 * log sshlog mounterfile sshd args...`): mounts the share over itself, records the namespace and
 * the pids of sshfs and its ssh client, and becomes the node's sshd. sshfs forks into the
 * background only after it has connected and mounted, so when it returns the mount is ready (or
 * it failed, with exit status != 0). `pgrep --ns $$` finds the daemonized sshfs and its ssh, the
 * only such processes in this new namespace. (Unmounting makes sshfs exit.)
 */
const SSHFS_NODE_SCRIPT = `
share=$1 source=$2 port=$3 options=$4 log=$5 sshlog=$6 mounter=$7
shift 7
cd / || exit 1
: >"$sshlog"
if ! sshfs -p "$port" -F /dev/null -o "$options" "$source" "$share" </dev/null >"$log" 2>&1; then
  echo "sshfs could not mount $source on $share; its ssh said:" >&2
  tail -n 20 "$sshlog" >&2
  echo "and sshfs:" >&2
  tail -n 20 "$log" >&2
  exit 97
fi
sshfs_pid=$(pgrep -x --ns $$ --nslist mnt sshfs)
ssh_pid=$(pgrep -x --ns $$ --nslist mnt ssh)
if [ -z "$sshfs_pid" ]; then
  umount "$share"
  echo "sshfs mounted $share but pgrep --ns does not find it" >&2
  exit 1
fi
echo "$(readlink /proc/self/ns/mnt)" $sshfs_pid $ssh_pid >"$mounter"
exec "$@"
`;

/**
 * Runs inside a node's fresh private mount namespace (`sh -c SCRIPT sh keep count path... sshd
 * args...`): hides each path from the node, then becomes the node's sshd. A directory gets an
 * empty tmpfs over it. A file is hidden by replacing its directory with a tmpfs of symlinks to
 * everything else in it (into a bind mount of the original at `keep/<i>/orig`); the tmpfs is
 * filled elsewhere and then moved into place, so that no tool the script needs disappears midway.
 */
const HIDE_NODE_SCRIPT = `
keep=$1 count=$2
shift 2
i=0
while [ "$i" -lt "$count" ]; do
  p=$1
  shift
  i=$((i + 1))
  if [ -d "$p" ]; then
    mount -t tmpfs -o mode=0755 malocher-hidden "$p" || exit 1
  else
    d=\${p%/*} name=\${p##*/} k=$keep/$i
    mkdir -p "$k/orig" "$k/stage" || exit 1
    mount --bind "\${d:-/}" "$k/orig" || exit 1
    mount -t tmpfs -o mode=0755 malocher-hidden "$k/stage" || exit 1
    ln -s "$k/orig"/* "$k/stage/" || exit 1
    rm -f "$k/stage/$name" || exit 1
    mount --move "$k/stage" "\${d:-/}" || exit 1
  fi
done
exec "$@"
`;

/** One node of a cluster started by {@link startSshNodes}. */
export interface SshNode {
  /** 0-based position in {@link SshNodes.nodes}. */
  index: number;
  /** Loopback address the node's sshd listens on: `"127.0.0.2"` for index 0, and so on. */
  address: string;
  /** The port all nodes of this cluster listen on. */
  port: number;
  /** `"127.0.0.2:PORT"`: how a user would write the node in `sshMachines`. */
  machine: string;
  /** This node's private host key file (its `.pub` is next to it). */
  hostKeyPath: string;
}

/**
 * A running cluster of sshd nodes. Always call {@link SshNodes.close} (in an `after()` hook):
 * the daemons are detached and outlive the test process otherwise.
 *
 * The daemons use the stock OpenSSH limits (`MaxStartups 10:30:100`, `MaxSessions 10`), like a
 * real node would, so code under test meets the same limits it will meet in production.
 */
export interface SshNodes {
  /** Temp state directory (mode 0700) holding keys, configs, pid files and `sshd_<i>.log`. */
  dir: string;
  nodes: SshNode[];
  /** The user the sessions log in as: `os.userInfo().username`. */
  user: string;
  /** Path of the generated client ed25519 private key, authorized on all nodes. */
  privateKey: string;
  /** Path of a second client ed25519 key that is NOT authorized on any node. */
  wrongKey: string;
  /** Path of an OpenSSH known_hosts file with a `[addr]:port key` line for every node. */
  knownHosts: string;
  /** The empty HOME the nodes' sessions get (`SetEnv HOME=...`), so no shell start-up files run. */
  home: string;
  /**
   * Whether the cluster was started with {@link SshNodesOptions.sshfsShare}: every node then sees
   * that directory through its own sshfs mount (in the node's private mount namespace), while
   * this process, and everything else outside the nodes, sees the real directory.
   */
  sshfs: boolean;
  /**
   * Kills that node's sshd (SIGTERM, SIGKILL after 5 s) and waits until it refuses connections.
   * In sshfs mode it then stops the node's sshfs too, which unmounts the share (SIGTERM; SIGKILL
   * after 5 s), and waits until sshfs and its ssh client are gone. Sessions of the node that are
   * still running (sshd leaves them alone) then see the real directory, or ENOTCONN if they have
   * a file or working directory in the share. No-op if stopped.
   */
  stopNode(index: number): Promise<void>;
  /**
   * Starts that node's sshd again (same host key) and waits until it accepts. In sshfs mode in a
   * new mount namespace with a new sshfs mount. No-op if running.
   */
  startNode(index: number): Promise<void>;
  /**
   * Gives that node a new host key and (re)starts it. `knownHosts` is NOT updated, so strict
   * clients now see a host key mismatch. `hostKeyPath` stays the same path.
   */
  changeHostKey(index: number): Promise<void>;
  /** Idempotent: stops every sshd (and sshfs, and the file server) and removes {@link SshNodes.dir}. */
  close(): Promise<void>;
}

/** Options of {@link startSshNodes}. */
export interface SshNodesOptions {
  /** `AllowTcpForwarding` of every node; default `true`. */
  allowTcpForwarding?: boolean;
  /** More variables every session gets (`SetEnv`), e.g. `SLURM_CONF` for a node that stands in for a Slurm login node. */
  setEnv?: Record<string, string>;
  /** Port for all nodes; default: a random port in 20000-60000 that is free on every address. */
  port?: number;
  /**
   * Absolute path of an existing directory to share through sshfs (the test's Malocher directory
   * lives below it). The harness then also starts a file server, an sshd on 127.0.0.250 (same
   * port, serving SFTP from the real file system), and starts each node's sshd in its own private
   * mount namespace in which `sshfsShare` is mounted over itself from the file server (options
   * `dir_cache=no,entry_timeout=0,attr_timeout=0,negative_timeout=0`: no caching of names,
   * attributes, or file content across opens). So every node reaches the share at the same path
   * but over SFTP, while the test process sees the real directory. Needs root; `count` may then
   * be at most 248. Takes ~0.1 s more than without (the nodes mount in parallel).
   *
   * Observed on sshfs 3.7.3 (OpenSSH 9.2 server): what a node does is what the file server's
   * file system does, atomically: `rename` replaces an existing file, `link` and
   * `open(O_CREAT|O_EXCL)` fail with EEXIST on an existing name, `mkdir` with EEXIST. Differences
   * from a local file system: `stat().nlink` is always 1 and `ino` is sshfs's own number, mtimes
   * have whole seconds (also those a node sets: `utimes` drops the fraction), and renaming a
   * directory over a non-empty one fails with EPERM (not ENOTEMPTY).
   */
  sshfsShare?: string;
  /**
   * Nodes that only a jump host can reach, for ProxyJump tests: the sshd of each node in `nodes`
   * runs in a private network namespace (with its own loopback, where it listens on its usual
   * 127.0.0.x address), so nothing outside can connect to it: a direct connection is refused.
   * Node `jumpHost` (not in `nodes`) is reachable as usual, but each of its SSH sessions runs in
   * that namespace: its sshd is started per connection in inetd mode (`sshd -i`) inside the
   * namespace, by a listener of this process on the node's address. So TCP forwarding through
   * the jump host (`ssh -J`, ssh2 `forwardOut`) reaches the hidden nodes, and their remote
   * forwards lead back through the jump host. Needs root, `unshare`, `nsenter` and `ip`.
   *
   * Why a namespace and not sshd's `Match Address`/`from=`: on one machine a connection to any
   * 127.0.0.x comes from 127.0.0.1 (source address selection uses the loopback route's preferred
   * source; measured: a connection from 127.0.0.1 to 127.0.0.3 and sshd's own forwarding look the
   * same), so the address cannot tell a jump host's connection from a direct one.
   * `stopNode`, `startNode` and `changeHostKey` work for these nodes too.
   */
  behindJumpHost?: { jumpHost: number; nodes: number[] };
  /**
   * Paths that a node does not have, by node index: what a machine looks like on which something
   * is not installed or not mounted. That node's sshd runs in its own private mount namespace in
   * which each path is hidden: an existing directory behind an empty tmpfs (so a shared directory
   * below it is "not mounted" there), a file by a tmpfs over its directory that holds symlinks to
   * everything else in that directory (so `/usr/bin/node` is missing but `/usr/bin/sh` works).
   * The rest of the file system is the same as everywhere. Needs root and `unshare`; does not go
   * together with `sshfsShare` or `behindJumpHost`. Do not hide a directory that holds the
   * harness's own state (`os.tmpdir()` itself).
   *
   * @example
   * ```ts
   * const cluster = await startSshNodes(2, { hidePaths: { 1: [process.execPath] } }); // no Node on node 1
   * ```
   */
  hidePaths?: Record<number, readonly string[]>;
}

interface NodeState {
  node: SshNode;
  conf: string;
  log: string;
  pidFile: string;
  /** Pid of the running daemon, undefined while stopped. */
  pid: number | undefined;
  /** Operations on one node run one after another. */
  queue: Promise<void>;
  /** In sshfs mode: how this node mounts the share. */
  sshfs?: SshfsMount;
  /** With hidePaths: what this node does not see, and where the script keeps its mounts. */
  hide?: { paths: readonly string[]; keep: string };
  /** With behindJumpHost: `/proc/<pid>/ns/net` of the private network for a hidden node. */
  netns?: string;
  /** With behindJumpHost, for the jump host: sshd runs per connection in `netns`, this accepts them. */
  inetd?: { netns: string; server: net.Server | undefined };
}

/** A process that holds a private network namespace (loopback up) open while it lives. */
interface NetnsHolder {
  pid: number;
  path: string;
  kill(): Promise<void>;
}

async function startNetnsHolder(): Promise<NetnsHolder> {
  // unshare execs sh, which execs sleep: one process, whose namespace the others enter.
  const child = spawn("unshare", ["-n", "sh", "-c", "ip link set lo up && echo up && exec sleep 2147483647"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const up = await new Promise<boolean>((resolve) => {
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("up")) resolve(true);
    });
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", () => resolve(false));
    child.once("error", (error) => {
      output += error.message;
      resolve(false);
    });
  });
  if (!up || child.pid === undefined) throw new Error(`startSshNodes: cannot create a private network namespace: ${output.trim()}`);
  const pid = child.pid;
  return {
    pid,
    path: `/proc/${pid}/ns/net`,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** How one node mounts the share, and the processes doing it. */
interface SshfsMount {
  /** The shared directory, mounted over itself. */
  share: string;
  /** `user@127.0.0.250:share`. */
  source: string;
  /** `-o` options: ssh client options for the file server, then {@link SSHFS_MOUNT_OPTIONS}. */
  options: string;
  /** sshfs's output (truncated at every start). */
  log: string;
  /** The output of sshfs's ssh client (`ssh -E`: sshfs sends its stderr to /dev/null). */
  sshLog: string;
  /** Written by {@link SSHFS_NODE_SCRIPT}: the mount namespace, then the pids of sshfs and its ssh. */
  mounterFile: string;
  /** What {@link SshfsMount.mounterFile} said, while they (may) run. */
  mounter: Mounter | undefined;
}

/** The processes serving one node's mount; `ns` tells them apart from later users of the pids. */
interface Mounter {
  /** `mnt:[...]`, the node's mount namespace. */
  ns: string;
  /** sshfs first, then its ssh client (if found). */
  pids: number[];
}

/**
 * Starts `count` sshd daemons on 127.0.0.2 .. 127.0.0.(count+1), all on one port, and waits
 * until each one accepts connections.
 *
 * @example
 * ```ts
 * const cluster = await startSshNodes(2);
 * after(() => cluster.close());
 * await execFileAsync("ssh", ["-i", cluster.privateKey, "-p", String(cluster.nodes[0]!.port),
 *   "-o", `UserKnownHostsFile=${cluster.knownHosts}`, "-o", "StrictHostKeyChecking=yes",
 *   `${cluster.user}@${cluster.nodes[0]!.address}`, "echo ok"]);
 * ```
 */
export async function startSshNodes(count: number, options: SshNodesOptions = {}): Promise<SshNodes> {
  if (!Number.isInteger(count) || count < 1 || count > 250) {
    throw new Error(`startSshNodes: count must be an integer in 1..250, got ${count}`);
  }
  if (options.sshfsShare !== undefined) await checkSshfsShare(options.sshfsShare, count);
  const jump = options.behindJumpHost;
  if (jump !== undefined) {
    const indexes = [jump.jumpHost, ...jump.nodes];
    if (indexes.some((i) => !Number.isInteger(i) || i < 0 || i >= count) || jump.nodes.includes(jump.jumpHost)) {
      throw new Error(`startSshNodes: behindJumpHost needs node indexes below ${count}, the jump host not among the hidden nodes`);
    }
    if (options.sshfsShare !== undefined) throw new Error("startSshNodes: behindJumpHost and sshfsShare do not go together");
  }
  if (options.hidePaths !== undefined) {
    for (const [key, paths] of Object.entries(options.hidePaths)) {
      const index = Number(key);
      if (!Number.isInteger(index) || index < 0 || index >= count) throw new Error(`startSshNodes: hidePaths names node ${key}, not below ${count}`);
      if (paths.some((p) => !path.isAbsolute(p) || p === "/")) throw new Error(`startSshNodes: hidePaths needs absolute paths other than /, got ${paths.join(", ")}`);
    }
    if (options.sshfsShare !== undefined || jump !== undefined) throw new Error("startSshNodes: hidePaths goes with neither sshfsShare nor behindJumpHost");
    if (process.getuid?.() !== 0) throw new Error("startSshNodes: hidePaths needs root (a mount namespace per node)");
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "malocher-sshd-"));
  await fs.chmod(dir, 0o700);
  const states: NodeState[] = [];
  let holder: NetnsHolder | undefined;
  try {
    if (jump !== undefined) holder = await startNetnsHolder();
    return await setUp(dir, count, options, states, holder);
  } catch (error) {
    await Promise.allSettled(states.map((s) => stopDaemon(s)));
    await holder?.kill();
    await fs.rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function setUp(
  dir: string,
  count: number,
  options: SshNodesOptions,
  states: NodeState[],
  holder: NetnsHolder | undefined,
): Promise<SshNodes> {
  const privateKey = path.join(dir, "id_ed25519");
  const wrongKey = path.join(dir, "wrong_ed25519");
  const authorizedKeys = path.join(dir, "authorized_keys");
  const knownHosts = path.join(dir, "known_hosts");
  const home = path.join(dir, "home");
  const addresses = Array.from({ length: count }, (_, i) => `127.0.0.${i + 2}`);
  const hostKeys = addresses.map((_, i) => path.join(dir, `host_${i}`));
  const share = options.sshfsShare;
  // In sshfs mode: the file server's host key and a known_hosts file with just its line, for
  // the nodes' sshfs (knownHosts stays the nodes' list).
  const fileServerKey = path.join(dir, "host_fileserver");
  const fileServerKnownHosts = path.join(dir, "fileserver_known_hosts");
  const user = os.userInfo().username;

  await Promise.all([
    ensurePrivsepDir(),
    fs.mkdir(home, { mode: 0o700 }),
    generateKey(privateKey),
    generateKey(wrongKey),
    ...hostKeys.map((k) => generateKey(k)),
    ...(share === undefined ? [] : [generateKey(fileServerKey)]),
  ]);
  await fs.writeFile(authorizedKeys, await fs.readFile(`${privateKey}.pub`), { mode: 0o600 });
  const versionLines = await versionSpecificConfig();

  /** Writes the config of one daemon and returns its state. */
  const makeState = async (name: string, node: SshNode): Promise<NodeState> => {
    const state: NodeState = {
      node,
      conf: path.join(dir, `sshd_${name}.conf`),
      log: path.join(dir, `sshd_${name}.log`),
      pidFile: path.join(dir, `sshd_${name}.pid`),
      pid: undefined,
      queue: Promise.resolve(),
    };
    const conf = [
      `ListenAddress ${node.address}:${node.port}`,
      `HostKey ${node.hostKeyPath}`,
      `PidFile ${state.pidFile}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      `AllowTcpForwarding ${options.allowTcpForwarding === false ? "no" : "yes"}`,
      "Subsystem sftp internal-sftp",
      "LogLevel ERROR",
      // An empty HOME keeps this machine's shell start-up files out of every ssh command.
      `SetEnv HOME=${home}${Object.entries(options.setEnv ?? {})
        .map(([name, value]) => ` ${name}=${value}`)
        .join("")}`,
      ...versionLines,
    ];
    await fs.writeFile(state.conf, conf.join("\n") + "\n", { mode: 0o600 });
    return state;
  };

  let fileServer: NodeState | undefined;
  const allStates = (): NodeState[] => (fileServer ? [...states, fileServer] : states);
  try {
    for (let attempt = 1; ; attempt++) {
      const port =
        options.port ?? (await pickFreePort(share === undefined ? addresses : [...addresses, FILE_SERVER_ADDRESS]));
      states.length = 0;
      fileServer = undefined;
      for (const [i, address] of addresses.entries()) {
        const node = { index: i, address, port, machine: `${address}:${port}`, hostKeyPath: hostKeys[i]! };
        const state = await makeState(String(i), node);
        const hidden = options.hidePaths?.[i];
        if (hidden !== undefined && hidden.length > 0) state.hide = { paths: hidden, keep: path.join(dir, `hide_${i}`) };
        if (holder !== undefined && options.behindJumpHost?.nodes.includes(i)) state.netns = holder.path;
        if (holder !== undefined && options.behindJumpHost?.jumpHost === i) state.inetd = { netns: holder.path, server: undefined };
        if (share !== undefined) {
          const sshLog = path.join(dir, `sshfs_${i}.ssh.log`);
          state.sshfs = {
            share,
            source: `${user}@${FILE_SERVER_ADDRESS}:${share}`,
            options: [
              // Without -E sshfs throws away what ssh says (like "Host key verification failed").
              `ssh_command=ssh -E ${sshLog}`,
              `IdentityFile=${privateKey}`,
              `UserKnownHostsFile=${fileServerKnownHosts}`,
              "GlobalKnownHostsFile=/dev/null",
              "StrictHostKeyChecking=yes",
              "BatchMode=yes",
              "IdentitiesOnly=yes",
              "ConnectTimeout=5",
              SSHFS_MOUNT_OPTIONS,
            ].join(","),
            log: path.join(dir, `sshfs_${i}.log`),
            sshLog,
            mounterFile: path.join(dir, `sshfs_${i}.pids`),
            mounter: undefined,
          };
        }
        states.push(state);
      }
      let failures: unknown[] = [];
      if (share !== undefined) {
        const address = FILE_SERVER_ADDRESS;
        const node = { index: -1, address, port, machine: `${address}:${port}`, hostKeyPath: fileServerKey };
        fileServer = await makeState("fileserver", node);
        await fs.writeFile(fileServerKnownHosts, await knownHostsLine(node), { mode: 0o600 });
        // The nodes mount from the file server as they start, so it comes first.
        try {
          await startDaemon(fileServer);
        } catch (error) {
          failures = [error];
        }
      }
      if (failures.length === 0) {
        const started = await Promise.allSettled(states.map((s) => startDaemon(s)));
        failures = started.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
      }
      if (failures.length === 0) break;
      // Another process may have taken the port between our check and sshd's bind: pick another.
      const portTaken = failures.some((f) => f instanceof SshdStartError && f.addressInUse);
      if (!(portTaken && options.port === undefined && attempt < PORT_ATTEMPTS)) throw failures[0];
      await Promise.all(allStates().map((s) => stopDaemon(s)));
    }
  } catch (error) {
    // The nodes first: their sshfs are the file server's clients.
    await Promise.allSettled(states.map((s) => stopDaemon(s)));
    if (fileServer) await stopDaemon(fileServer).catch(() => {});
    throw error;
  }

  const knownHostsLines = await Promise.all(states.map(({ node }) => knownHostsLine(node)));
  await fs.writeFile(knownHosts, knownHostsLines.join(""), { mode: 0o600 });

  let closing: Promise<void> | undefined;
  const stateOf = (index: number): NodeState => {
    if (closing) throw new Error("SshNodes is closed");
    const state = states[index];
    if (!state) throw new Error(`no node with index ${index} (have ${states.length})`);
    return state;
  };
  const serially = (state: NodeState, op: () => Promise<void>): Promise<void> => {
    const result = state.queue.then(op);
    state.queue = result.catch(() => {});
    return result;
  };

  return {
    dir,
    nodes: states.map((s) => s.node),
    user,
    privateKey,
    wrongKey,
    knownHosts,
    home,
    sshfs: share !== undefined,
    async stopNode(index) {
      const state = stateOf(index);
      return serially(state, () => stopDaemon(state));
    },
    async startNode(index) {
      const state = stateOf(index);
      return serially(state, () => startDaemon(state));
    },
    async changeHostKey(index) {
      const state = stateOf(index);
      return serially(state, async () => {
        await stopDaemon(state);
        const key = state.node.hostKeyPath;
        await fs.rm(key, { force: true });
        await fs.rm(`${key}.pub`, { force: true });
        await generateKey(key);
        await startDaemon(state);
      });
    },
    close() {
      closing ??= (async () => {
        const stopped = await Promise.allSettled(
          states.map((s) => serially(s, () => stopDaemon(s))),
        );
        // After the nodes: their sshfs are the file server's clients.
        if (fileServer) stopped.push(...(await Promise.allSettled([stopDaemon(fileServer)])));
        await holder?.kill();
        await fs.rm(dir, { recursive: true, force: true });
        const errors = stopped.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
        if (errors.length > 0) throw new AggregateError(errors, "SshNodes.close: some sshd did not stop");
      })();
      return closing;
    },
  };
}

/** Why one sshd did not come up; `addressInUse` when its port was taken (worth another port). */
class SshdStartError extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
    this.name = "SshdStartError";
  }
}

/**
 * Starts the daemon of `state` unless it runs, and waits until it answers with an SSH banner.
 * In sshfs mode the daemon starts in a new mount namespace, after sshfs has mounted the share there.
 */
async function startDaemon(state: NodeState): Promise<void> {
  if (state.inetd) return startInetd(state, state.inetd);
  if (state.pid !== undefined && isAlive(state.pid)) return;
  const { node, conf, log, pidFile, sshfs } = state;
  // An sshfs whose sshd died on its own: its mount namespace is of no use any more.
  if (sshfs) await stopSshfs(state.node, sshfs);
  await fs.rm(pidFile, { force: true });
  // The log is appended to across restarts; only what this start writes counts.
  const logStart = await fileSize(log);
  const fail = async (what: string): Promise<never> => {
    const tail = await logTail(log, logStart);
    throw new SshdStartError(
      `sshd for ${node.machine} ${what}; its log (${log}) ends:\n${tail || "(empty)"}`,
      /Address already in use/i.test(tail),
    );
  };

  try {
    // Without -D sshd forks into the background: it returns once its config and host key are
    // read, but it binds the port (and writes the pid file) only afterwards, in the daemon.
    const sshd = [...(state.netns ? ["nsenter", `--net=${state.netns}`] : []), SSHD, "-f", conf, "-E", log];
    if (state.hide) {
      const { paths, keep } = state.hide;
      await execFileAsync(
        "unshare",
        ["-m", "--propagation", "private", "sh", "-c", HIDE_NODE_SCRIPT, "sh", keep, String(paths.length), ...paths, ...sshd],
        { timeout: DEADLINE_MS },
      );
    } else if (!sshfs) {
      await execFileAsync(sshd[0]!, sshd.slice(1), { timeout: DEADLINE_MS });
    } else {
      await fs.rm(sshfs.mounterFile, { force: true });
      const { share, source, options, log: sshfsLog, sshLog, mounterFile } = sshfs;
      try {
        await execFileAsync(
          "unshare",
          ["-m", "--propagation", "private", "sh", "-c", SSHFS_NODE_SCRIPT, "sh",
            share, source, String(node.port), options, sshfsLog, sshLog, mounterFile, ...sshd],
          { timeout: DEADLINE_MS },
        );
      } finally {
        // Even when sshd then failed, sshfs may run and must be stopped with the node.
        sshfs.mounter = await readMounter(mounterFile);
      }
    }
  } catch (error) {
    const { code, stderr } = error as { code?: unknown; stderr?: unknown };
    if (sshfs && code === SSHFS_FAILED) {
      throw new SshdStartError(`${node.machine}: ${String(stderr).trim()}`, false);
    }
    await fail(`did not start (${(error as Error).message.trim()})`);
  }

  const deadline = Date.now() + DEADLINE_MS;
  let firstOutputAt: number | undefined;
  for (;;) {
    // The pid file appears after the listen socket is bound, so the banner is from our daemon.
    const pid = await readPid(pidFile);
    if (pid !== undefined) {
      if (!isAlive(pid)) await fail(`exited right after start (pid ${pid})`);
      // A node in a private network cannot be probed from here; its pid file says it listens.
      if (state.netns !== undefined || (await probe(node.address, node.port)) === "ssh") {
        state.pid = pid;
        return;
      }
    } else if ((await fileSize(log)) > logStart) {
      // At LogLevel ERROR a healthy daemon writes nothing while starting; output before the pid
      // file ("Bind to port ... failed", "Cannot bind any address.") means it is dying. The
      // short grace lets the last lines arrive and tolerates harmless noise.
      firstOutputAt ??= Date.now();
      if (Date.now() - firstOutputAt > 300) await fail("failed");
    }
    if (Date.now() > deadline) await fail(`did not accept connections within ${DEADLINE_MS} ms`);
    await delay(POLL_MS);
  }
}

/**
 * Stops the daemon of `state` if it runs and waits until its port refuses connections; in sshfs
 * mode then stops its sshfs.
 */
async function stopDaemon(state: NodeState): Promise<void> {
  await stopSshd(state);
  if (state.sshfs) await stopSshfs(state.node, state.sshfs);
}

async function stopSshd(state: NodeState): Promise<void> {
  if (state.inetd) return stopInetd(state.inetd);
  const pid = state.pid ?? (await readPid(state.pidFile));
  // No pid: it never came up (or is already stopped), and whatever listens on its port is not ours.
  if (pid === undefined) return;
  signal(pid, "SIGTERM");
  if (!(await waitFor(() => !isAlive(pid), TERM_GRACE_MS))) {
    signal(pid, "SIGKILL");
    if (!(await waitFor(() => !isAlive(pid), DEADLINE_MS))) {
      throw new Error(`sshd ${pid} for ${state.node.machine} survived SIGKILL`);
    }
  }
  state.pid = undefined;
  await fs.rm(state.pidFile, { force: true });
  const { address, port } = state.node;
  if (!(await waitFor(async () => (await probe(address, port)) === "refused", DEADLINE_MS))) {
    throw new Error(`${state.node.machine} still accepts connections after its sshd was stopped`);
  }
}

/**
 * The jump host of behindJumpHost: accepts on the node's address here and runs `sshd -i` for each
 * connection inside the private network. The socket is handed over unread (`pauseOnConnect`).
 */
async function startInetd(state: NodeState, inetd: NonNullable<NodeState["inetd"]>): Promise<void> {
  if (inetd.server !== undefined) return;
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    const child = spawn("nsenter", [`--net=${inetd.netns}`, SSHD, "-i", "-f", state.conf, "-E", state.log], {
      stdio: [socket, socket, "ignore"],
    });
    child.once("error", () => socket.destroy());
    child.once("spawn", () => socket.destroy()); // the child has its own copy of the descriptor
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(new SshdStartError(`jump host ${state.node.machine} cannot listen: ${error.message}`, error.code === "EADDRINUSE")),
    );
    server.listen({ host: state.node.address, port: state.node.port, exclusive: true }, () => resolve());
  });
  inetd.server = server;
}

/** Stops accepting; sessions already running go on, as with a stopped sshd. */
async function stopInetd(inetd: NonNullable<NodeState["inetd"]>): Promise<void> {
  const server = inetd.server;
  if (server === undefined) return;
  inetd.server = undefined;
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * Stops the sshfs of a node (SIGTERM makes it unmount and exit; SIGKILL after 5 s) and waits until
 * it and its ssh client (which leaves on its own once sshfs is gone) have exited. Only processes
 * still in the node's mount namespace count, so a pid used again by now is left alone.
 */
async function stopSshfs(node: SshNode, sshfs: SshfsMount): Promise<void> {
  const mounter = sshfs.mounter ?? (await readMounter(sshfs.mounterFile));
  if (!mounter) return;
  const ours = (pid: number): boolean => isAlive(pid) && mountNamespace(pid) === mounter.ns;
  const running = (): number[] => mounter.pids.filter(ours);
  const [sshfsPid] = mounter.pids;
  if (sshfsPid !== undefined && ours(sshfsPid)) signal(sshfsPid, "SIGTERM");
  if (!(await waitFor(() => running().length === 0, TERM_GRACE_MS))) {
    for (const pid of running()) signal(pid, "SIGKILL");
    if (!(await waitFor(() => running().length === 0, DEADLINE_MS))) {
      throw new Error(`sshfs of ${node.machine} (pids ${running().join(", ")}) survived SIGKILL`);
    }
  }
  sshfs.mounter = undefined;
  await fs.rm(sshfs.mounterFile, { force: true });
}

/** What {@link SSHFS_NODE_SCRIPT} wrote: `mnt:[N] <sshfs pid> <ssh pid>`; undefined if nothing. */
async function readMounter(file: string): Promise<Mounter | undefined> {
  let words: string[];
  try {
    words = (await fs.readFile(file, "utf8")).trim().split(/\s+/);
  } catch {
    return undefined;
  }
  const [ns, ...rest] = words;
  const pids = rest.map((w) => Number.parseInt(w, 10)).filter((p) => Number.isInteger(p) && p > 0);
  return ns?.startsWith("mnt:") && pids.length > 0 ? { ns, pids } : undefined;
}

/** `mnt:[N]` of a live process; undefined if it is gone (or a zombie, which has no namespaces). */
function mountNamespace(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/** Refuses what the sshfs mode cannot do, before anything is started. */
async function checkSshfsShare(share: string, count: number): Promise<void> {
  if (!path.isAbsolute(share)) throw new Error(`startSshNodes: sshfsShare must be absolute, got ${share}`);
  let isDirectory = false;
  try {
    isDirectory = (await fs.stat(share)).isDirectory();
  } catch {
    // reported below
  }
  if (!isDirectory) throw new Error(`startSshNodes: sshfsShare ${share} is not an existing directory`);
  if (count > 248) {
    throw new Error(`startSshNodes: with sshfsShare count must be at most 248 (${FILE_SERVER_ADDRESS} is the file server)`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error("startSshNodes: sshfsShare needs root (a mount namespace and a FUSE mount per node)");
  }
  // Paths in the state directory go into sshfs's comma-separated -o list and its ssh_command.
  if (/[\s,\\]/.test(os.tmpdir())) {
    throw new Error(`startSshNodes: sshfsShare needs a temp directory without whitespace, commas or backslashes, got ${os.tmpdir()} (set TMPDIR)`);
  }
}

/** The `known_hosts` line of `node`'s current host key. */
async function knownHostsLine(node: SshNode): Promise<string> {
  const [type, key] = (await fs.readFile(`${node.hostKeyPath}.pub`, "utf8")).trim().split(/\s+/);
  return `${knownHostsName(node)} ${type} ${key}\n`;
}

/**
 * Connects to `address:port` and reads the server's first line: `"ssh"` for an SSH-2.0 banner,
 * `"refused"` when nobody listens, `"other"` for anything else (timeout, reset, not SSH).
 */
function probe(address: string, port: number): Promise<"ssh" | "refused" | "other"> {
  return new Promise((resolve) => {
    let received = "";
    let sawBanner = false;
    const socket = net.connect({ host: address, port });
    const done = (result: "ssh" | "refused" | "other"): void => {
      socket.destroy();
      resolve(sawBanner ? "ssh" : result);
    };
    socket.setTimeout(2_000, () => done("other"));
    socket.on("error", (error: NodeJS.ErrnoException) =>
      done(error.code === "ECONNREFUSED" ? "refused" : "other"),
    );
    socket.on("end", () => done("other"));
    socket.on("data", (chunk: Buffer) => {
      if (sawBanner) return;
      received += chunk.toString("latin1");
      if (!received.includes("\n")) return;
      if (!received.startsWith("SSH-2.0-")) return done("other");
      sawBanner = true;
      // Answering with our own banner before hanging up keeps sshd from logging
      // "kex_exchange_identification: Connection closed by remote host" for every probe.
      socket.end("SSH-2.0-malocher-probe\r\n", () => done("ssh"));
    });
  });
}

/** A random port in 20000-60000 that nothing listens on at any of `addresses`. */
async function pickFreePort(addresses: string[]): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 40_001);
    let free = true;
    for (const address of addresses) {
      if (!(await canListen(address, port))) {
        free = false;
        break;
      }
    }
    if (free) return port;
  }
  throw new Error(`no port in 20000-60000 is free on ${addresses.join(", ")}`);
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** `[addr]:port` as known_hosts spells a host on a non-default port. */
function knownHostsName(node: SshNode): string {
  return node.port === 22 ? node.address : `[${node.address}]:${node.port}`;
}

/**
 * OpenSSH 9.8 added PerSourcePenalties, on by default: every connection that closes without
 * authenticating (like our readiness probes) or fails to authenticate (like a wrong-key test)
 * costs its source address penalty time, and past 15 s sshd drops all its connections. All our
 * clients come from 127.0.0.1, so switch it off where it exists (older sshd rejects the keyword).
 */
async function versionSpecificConfig(): Promise<string[]> {
  let output = "";
  try {
    const { stdout, stderr } = await execFileAsync(SSHD, ["-V"]);
    output = stdout + stderr;
  } catch (error) {
    // Before 9.2 there is no -V; the usage message names the version too.
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    output = stdout + stderr;
  }
  const match = /OpenSSH_(\d+)\.(\d+)/.exec(output);
  if (!match) return [];
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > 9 || (major === 9 && minor >= 8) ? ["PerSourcePenalties no"] : [];
}

/** sshd refuses to start without its privilege-separation directory. */
async function ensurePrivsepDir(): Promise<void> {
  try {
    await fs.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  } catch (error) {
    // Without root we cannot create it; sshd then says what is missing in its log.
    if (process.getuid?.() === 0) throw error;
  }
}

async function generateKey(file: string): Promise<void> {
  await execFileAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", file]);
}

async function readPid(pidFile: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await fs.readFile(pidFile, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is a live process. A daemon is not our child: once it exits it is a zombie until
 * init reaps it, which some container inits do only every few seconds, and `kill(pid, 0)`
 * succeeds on zombies. So a zombie counts as gone.
 */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return true; // no /proc (not Linux): trust kill(pid, 0)
  }
  const state = stat.charAt(stat.lastIndexOf(")") + 2);
  return state !== "Z" && state !== "X";
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return 0;
  }
}

/** The last lines `file` got after byte `from`. */
async function logTail(file: string, from: number, lines = 20): Promise<string> {
  try {
    const text = (await fs.readFile(file)).subarray(from).toString("utf8");
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** Polls `condition` every few ms; false if it did not hold within `timeoutMs`. */
async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await delay(POLL_MS);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
