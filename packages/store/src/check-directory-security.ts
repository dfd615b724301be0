import { execFileSync } from "node:child_process";
import { lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, type Stats } from "node:fs";
import { homedir, userInfo } from "node:os";
import { dirname, resolve } from "node:path";
import { MalocherError } from "@malocher/protocol";

/** Options of {@link checkDirectorySecurity}. */
export interface DirectorySecurityOptions {
  /**
   * Accept a directory that other accounts can write to or own (a deliberate group setup,
   * `--allow-shared-dir-writers`). Each such problem is returned as a warning instead of thrown;
   * the caller prints the warnings every run. Default `false`.
   */
  allowSharedWriters?: boolean;
}

/** Where a checked directory sits relative to the Malocher directory; says why it matters. */
type Role = { kind: "directory" } | { kind: "parent" } | { kind: "on-the-way"; link: string | undefined } | { kind: "inside" };

interface Me {
  uid: number;
  name: string;
}

/** Linux's own limit on symlinks followed in one lookup (ELOOP beyond it). */
const MAX_SYMLINKS = 40;

/**
 * Refuses a shared directory into which another account could plant a job spec: agents run every
 * job they find there as the user, so the directory is a trust boundary. The rules follow
 * OpenSSH's `StrictModes`:
 *
 * - the directory (its real path, symlinks resolved) is owned by the current user and is not
 *   writable by group or others;
 * - each parent, up to and including the home directory if the directory is below it (else up to
 *   `/`), is owned by root or the user and is not writable by group or others, unless it has the
 *   sticky bit (like `/tmp`, mode 1777: others may add entries but not rename or delete ours);
 * - so is each directory that holds a symlink on the way to it (whoever can write there can
 *   point the symlink elsewhere), and each such symlink is owned by root or the user (in a sticky
 *   directory like `/tmp`, the symlink's owner may replace it, even mid-run);
 * - an owner that does not map to a user (`nobody`, or an id unknown here) gets its own message
 *   with the NFSv4 idmapping hint;
 * - so is every directory inside it, two levels deep (`specs/`, `specs/<shard>/`, `running/<agentId>/`
 *   …), and its files at the top (`key`, `format`, `signal`): a private top directory that was made
 *   0755 later must not open 0777 directories below it to everyone; none of them is a symlink
 *   (refused with `allowSharedWriters` too: what is written through one lands outside the directory).
 *
 * If `dir` does not exist yet, its existing ancestors are checked as parents, so a caller can
 * check before creating it (and should check again after).
 *
 * Synchronous, because it runs inside `submit()`. It only reads metadata; the checks are a
 * snapshot, which is why the agent and the supervisor repeat them every run.
 *
 * @returns warnings, one per problem, which are non-empty only with `allowSharedWriters`.
 * @throws MalocherError `SHARED_DIR_INSECURE` naming each offending path, its mode, its owner
 *   and the `chmod`/`chown` that fixes it.
 *
 * @example
 * ```ts
 * const warnings = checkDirectorySecurity("/home/me/jobs", { allowSharedWriters: options.allowSharedDirWriters });
 * for (const warning of warnings) console.warn(`malocher: warning: ${warning}`);
 * ```
 */
export function checkDirectorySecurity(dir: string, options: DirectorySecurityOptions = {}): string[] {
  // Without POSIX ids (Windows) there is no owner or mode to check.
  if (typeof process.getuid !== "function") return [];
  const me: Me = { uid: process.getuid(), name: currentUserName(process.getuid()) };
  const given = resolve(dir);
  const lookup = traceLookup(given);
  const realDir = lookup.exists ? realpathSync(given) : lookup.resolved;
  const home = realHome();
  const belowHome = realDir === home || realDir.startsWith(home === "/" ? "/" : `${home}/`);
  // Above the home directory is the administrator's domain (OpenSSH stops there too).
  const inScope = (path: string): boolean => !belowHome || !isStrictAncestor(path, home);

  const checks = new Map<string, Role>();
  if (lookup.exists) checks.set(realDir, { kind: "directory" });
  for (let path = dirname(realDir); ; path = dirname(path)) {
    if (!inScope(path)) break;
    if (lookup.exists || lookup.traversed.has(path)) checks.set(path, { kind: "parent" });
    if (path === "/" || (belowHome && path === home)) break;
  }
  for (const [path, link] of lookup.traversed) {
    if (!checks.has(path) && inScope(path)) checks.set(path, { kind: "on-the-way", link });
  }

  const problems: string[] = [];
  for (const [path, role] of checks) {
    const problem = inspect(path, statSync(path), role, me);
    if (problem !== undefined) problems.push(problem);
  }
  const tree = lookup.exists ? inspectTree(realDir, me) : { problems: [], symlinks: [] };
  problems.push(...tree.problems);
  for (const [link, stats] of lookup.links) {
    if (stats.uid === me.uid || stats.uid === 0) continue;
    problems.push(
      `${link} (a symlink on the way to the directory; owner ${describeOwner(stats.uid)}): it is owned by another account, ` +
        `which may point it elsewhere at any time. Fix: use the real path, or replace the symlink with one of your own.`,
    );
  }
  const where = given === realDir ? given : `${given} (reached through a symlink; checked at its real path ${realDir})`;
  // Refused in writer mode too: what Malocher writes through such a symlink lands outside the directory.
  if (tree.symlinks.length > 0) {
    throw new MalocherError(
      "SHARED_DIR_INSECURE",
      `Refusing the Malocher directory ${where}: it holds symlinks, which Malocher never makes; files it writes would go through them, out of the directory ` +
        `(was it planted by another account?).\n${tree.symlinks.map((link) => `  - ${link}\n`).join("")}Fix: rm ${tree.symlinks.map(shellQuote).join(" ")}`,
    );
  }
  if (problems.length === 0) return [];

  if (options.allowSharedWriters === true) {
    return problems.map(
      (problem) =>
        `the Malocher directory ${where} is open to other accounts, allowed by --allow-shared-dir-writers ` +
        `(allowSharedWriters): whoever can write there can plant jobs that run as ${me.name}. ${problem}`,
    );
  }
  throw new MalocherError(
    "SHARED_DIR_INSECURE",
    `Refusing the Malocher directory ${where}: agents run every job spec in it as ${me.name} ` +
      `(uid ${me.uid}), so no other account may be able to write there.\n` +
      problems.map((problem) => `  - ${problem}\n`).join("") +
      `If other accounts are meant to submit jobs there (a deliberate group setup), pass ` +
      `--allow-shared-dir-writers (library option allowSharedWriters: true); it warns every run.`,
  );
}

/**
 * "name (uid N)" for a user id, for messages about foreign files: "malocher-other (uid 1001)",
 * "nobody (uid 65534)", or "uid 4242 (no such user here)" for an id without an account. Looks in
 * /etc/passwd first, then asks `getent` (LDAP, sssd); Node has no getpwuid for other ids.
 *
 * @example
 * ```ts
 * describeOwner(statSync(path).uid); // "root (uid 0)"
 * ```
 */
export function describeOwner(uid: number): string {
  const name = userName(uid);
  return name === undefined ? `uid ${uid} (no such user here)` : `${name} (uid ${uid})`;
}

/** Levels below the directory whose directories are checked: `specs/` and `specs/<shard>/`. */
const TREE_DEPTH = 2;

/** The problems of what is inside the directory (see {@link checkDirectorySecurity}), and the symlinks there. */
function inspectTree(top: string, me: Me): { problems: string[]; symlinks: string[] } {
  const problems: string[] = [];
  const symlinks: string[] = [];
  const visit = (dir: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return; // gone meanwhile, or not ours to list: its own check says so
    }
    for (const name of names) {
      const path = `${dir}/${name}`;
      let stats: Stats;
      try {
        stats = lstatSync(path);
      } catch {
        continue;
      }
      if (stats.isSymbolicLink()) {
        symlinks.push(path);
        continue;
      }
      if (!stats.isDirectory() && depth > 1) continue; // job files: ours, 0600, and only reachable through the directories checked here
      const problem = inspect(path, stats, { kind: "inside" }, me);
      if (problem !== undefined) problems.push(problem);
      if (stats.isDirectory() && depth < TREE_DEPTH) visit(path, depth + 1);
    }
  };
  visit(top, 1);
  if (problems.length <= 3) return { problems, symlinks };
  // A directory made under a loose umask has a hundred of them: one line, one fix.
  return {
    problems: [`${problems.length} paths inside ${top} are open to other accounts, e.g. ${problems[0]} Fix them all: chmod -R go-rwx ${shellQuote(top)}.`],
    symlinks,
  };
}

/** Says what is wrong with one directory (or a file inside it) and how to fix it, or undefined if nothing is. */
function inspect(path: string, stats: Stats, role: Role, me: Me): string | undefined {
  const isDir = role.kind === "directory" || role.kind === "inside";
  const issues: string[] = [];
  const fixes: string[] = [];
  let hint = "";
  if (!(stats.uid === me.uid || (!isDir && stats.uid === 0))) {
    const chown = `chown ${me.name} ${shellQuote(path)} (as root)`;
    if (isUnmapped(stats.uid)) {
      issues.push(`its owner is an unmapped id, not ${isDir ? "you" : "root or you"}`);
      hint =
        ` An NFSv4 mount without working idmapping shows every owner as nobody: set the same Domain in ` +
        `/etc/idmapd.conf on the server and on this client (then run nfsidmap -c), or mount with sec=sys ` +
        `or NFSv3 with matching uids, so that the owner maps to ${me.name}.` +
        (me.uid === 0 ? ` As root on an NFS export with root_squash, files you create belong to nobody: run Malocher as a normal user.` : "");
      fixes.push(`if it really belongs to another id, ${chown}`);
    } else {
      issues.push(`it is owned by another account, not by ${isDir ? "you" : "root or you"}`);
      fixes.push(chown);
    }
  }
  const writers = stats.mode & 0o022;
  const sticky = (stats.mode & 0o1000) !== 0;
  // The sticky bit stops others from renaming or deleting what is ours in a parent; in the
  // directory itself it would still let them add job specs.
  if (writers !== 0 && (isDir || !sticky)) {
    const by = [
      ...((writers & 0o020) !== 0 ? [`its group ${describeGroup(stats.gid)}`] : []),
      ...((writers & 0o002) !== 0 ? ["every user"] : []),
    ];
    issues.push(`it is writable by ${by.join(" and ")}`);
    // After the chown, if any: only the owner may chmod.
    fixes.push(`chmod go-w ${shellQuote(path)}`);
  }
  if (issues.length === 0) return undefined;
  const what =
    role.kind === "directory"
      ? "the directory itself"
      : role.kind === "inside"
        ? "inside the directory"
      : role.kind === "parent"
        ? "a parent directory"
        : role.link === undefined
          ? "on the way to the directory"
          : `holds the symlink ${role.link} on the way to the directory`;
  const mode = (stats.mode & 0o7777).toString(8).padStart(4, "0");
  return `${path} (${what}; mode ${mode}, owner ${describeOwner(stats.uid)}): ${issues.join("; ")}. Fix: ${fixes.join(", then ")}.${hint}`;
}

/**
 * Walks `path` (absolute) the way the kernel looks it up, and records each directory in which a
 * name is looked up (by its real path), with the symlink found there if any. `resolved` is the
 * real path, or where the lookup would end if a component is missing.
 */
function traceLookup(path: string): {
  exists: boolean;
  resolved: string;
  traversed: Map<string, string | undefined>;
  links: Map<string, Stats>;
} {
  const traversed = new Map<string, string | undefined>();
  const links = new Map<string, Stats>();
  const pending = path.split("/");
  let current = "/";
  let followed = 0;
  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (name === "" || name === ".") continue;
    if (name === "..") {
      current = dirname(current);
      continue;
    }
    const next = current === "/" ? `/${name}` : `${current}/${name}`;
    let stats: Stats;
    try {
      stats = lstatSync(next);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      if (!traversed.has(current)) traversed.set(current, undefined);
      return { exists: false, resolved: resolve(next, ...pending), traversed, links };
    }
    if (!stats.isSymbolicLink()) {
      if (!traversed.has(current)) traversed.set(current, undefined);
      current = next;
      continue;
    }
    traversed.set(current, traversed.get(current) ?? next);
    links.set(next, stats);
    if (++followed > MAX_SYMLINKS) return { exists: true, resolved: current, traversed, links }; // realpathSync reports the ELOOP
    const target = readlinkSync(next);
    if (target.startsWith("/")) current = "/";
    pending.unshift(...target.split("/"));
  }
  return { exists: true, resolved: current, traversed, links };
}

function realHome(): string {
  const home = resolve(homedir());
  try {
    return realpathSync(home);
  } catch {
    return home;
  }
}

function isStrictAncestor(path: string, of: string): boolean {
  return path !== of && (path === "/" || of.startsWith(`${path}/`));
}

/**
 * `nobody` (65534, and the old 32-bit nfsnobody) is what NFSv4 shows for an owner it cannot map;
 * an id with no account here is the same symptom with numeric ids.
 */
function isUnmapped(uid: number): boolean {
  if (uid === 65534 || uid === 4294967294) return true;
  const name = userName(uid);
  return name === undefined || name === "nobody" || name === "nfsnobody";
}

function currentUserName(uid: number): string {
  try {
    return userInfo().username; // getpwuid_r, so it sees LDAP accounts too
  } catch {
    return userName(uid) ?? String(uid); // chown accepts a numeric id
  }
}

function userName(uid: number): string | undefined {
  return lookupName("/etc/passwd", "passwd", uid);
}

function describeGroup(gid: number): string {
  const name = lookupName("/etc/group", "group", gid);
  return name === undefined ? `gid ${gid}` : `${name} (gid ${gid})`;
}

/** The name for an id from a passwd-format file, else from `getent` (which also asks NSS). */
function lookupName(file: string, database: "passwd" | "group", id: number): string | undefined {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    // fall through to getent
  }
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields[2] === String(id) && fields[0] !== undefined && fields[0] !== "") return fields[0];
  }
  try {
    const entry = execFileSync("getent", [database, String(id)], { encoding: "utf8", timeout: 5_000, stdio: ["ignore", "pipe", "ignore"] });
    const name = entry.split(":")[0]?.trim();
    return name === undefined || name === "" ? undefined : name;
  } catch {
    return undefined; // no such id, or no getent
  }
}

/** Single-quotes a path for the shell commands in messages. */
function shellQuote(path: string): string {
  return `'${path.replaceAll("'", `'\\''`)}'`;
}
