/** What the benchmark ran on, for the report's header. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, release } from "node:os";

export interface Environment {
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
  openssh: string;
  parallel: string;
  malocher: string;
  /** The repository's commit, and whether packages/ had uncommitted changes. */
  revision: string;
  /** The file system type of the directory the jobs lived in (its mount's, else `stat -f`'s family such as "ext2/ext3"). */
  fileSystem: string;
}

export function describeEnvironment(dir: string): Environment {
  const cpuInfo = safely(() => readFileSync("/proc/cpuinfo", "utf8"));
  const malocherPackage = new URL("../packages/supervisor/package.json", import.meta.url);
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuInfo)?.[1]?.trim() ?? "unknown CPU",
    cores: availableParallelism(),
    kernel: `Linux ${release()}`,
    node: process.version,
    openssh: firstLine(run("ssh", ["-V"])),
    parallel: firstLine(run("parallel", ["--version"])),
    malocher: (JSON.parse(readFileSync(malocherPackage, "utf8")) as { version: string }).version,
    revision: describeRevision(),
    fileSystem: standardOutput("findmnt", ["-n", "-o", "FSTYPE", "-T", dir]) || standardOutput("stat", ["-f", "-c", "%T", dir]) || "unknown",
  };
}

function describeRevision(): string {
  const repository = new URL("..", import.meta.url).pathname;
  const commit = run("git", ["-C", repository, "rev-parse", "--short", "HEAD"]).trim();
  if (!/^[0-9a-f]+$/.test(commit)) return "an unknown commit (not a git checkout)";
  const changed = run("git", ["-C", repository, "status", "--porcelain", "--", "packages"]).trim() !== "";
  return `commit ${commit}${changed ? " with uncommitted changes in packages/" : ""}`;
}

/** stdout and stderr of a command (ssh -V writes to stderr), or "" if it failed. */
function run(command: string, args: string[]): string {
  const { stdout = "", stderr = "" } = spawnSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return stdout + stderr;
}

/** A command's stdout, trimmed; "" if it failed. */
function standardOutput(command: string, args: string[]): string {
  const { status, stdout = "" } = spawnSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  return status === 0 ? stdout.trim() : "";
}

function safely(read: () => string): string {
  try {
    return read();
  } catch {
    return "";
  }
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0]?.trim() || "unknown";
}
