import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { SHARDED_DIRS, SHARDS, directoryLayout } from "@malocher/protocol";

/**
 * The directories of the layout that are symlinks: none, unless another account replaced one
 * (writer mode) after `checkDirectorySecurity` looked at the whole tree. An agent in writer mode
 * looks at each renewal of its lease, as a shard directory may be replaced mid-run and the files
 * Malocher writes there would land wherever the link points. Only the fixed set of directories
 * files are written into (each sharded directory and its shards, `running/` and each agent's
 * directory in it, `retrying/`, `agents/`, `tmp/`): about 160 `lstat`s, no file of a job, no
 * owner or mode, so that it stays cheap every 2 s. The files themselves are opened with
 * `O_NOFOLLOW` (see safe-file.ts).
 */
export function plantedSymlinks(dir: string): string[] {
  const paths = [directoryLayout.runningDir(dir), directoryLayout.retryingDir(dir), directoryLayout.agentsDir(dir), directoryLayout.tmpDir(dir)];
  for (const name of SHARDED_DIRS) {
    paths.push(join(dir, name));
    for (const shard of SHARDS) paths.push(join(dir, name, shard));
  }
  let agents: string[] = [];
  try {
    agents = readdirSync(directoryLayout.runningDir(dir));
  } catch {}
  for (const agentId of agents) paths.push(directoryLayout.agentRunningDir(dir, agentId));
  return paths.filter((path) => {
    try {
      return lstatSync(path).isSymbolicLink();
    } catch {
      return false;
    }
  });
}
