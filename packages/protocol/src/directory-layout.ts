import { join } from "node:path";
import { chunkMemberOf, shardOf } from "./job-id.js";

/** The suffix of a chunk member's `removed` marker in `specs/<shard>/`. */
export const REMOVED_SPEC_SUFFIX = ".removed";

/**
 * Where everything lives in the shared directory. Paths only: reading and writing them is the
 * agent's and the supervisor's business.
 *
 * ```
 * <dir>/format                      directory format version
 * <dir>/key                         the directory's secret key (0600): signs specs and results
 * <dir>/signal                      touched on submit; agents watch this one file
 * <dir>/specs/<shard>/<jobId>       immutable job spec (a job submitted on its own)
 * <dir>/specs/<shard>/<chunkName>   immutable specs of the members <chunkName>-<index> of one
 *                                   chunk of a `submitMany` batch (see `encodeSpecChunk`)
 * <dir>/specs/<shard>/<jobId>.removed  that chunk member's spec counts as gone: `clean` removed
 *                                   the job, or `submitMany` failed before queueing it; the chunk
 *                                   file is deleted once all its members are removed
 * <dir>/queued/<shard>/<jobId>      queue marker; claimed by renaming it away
 * <dir>/running/<agentId>/<jobId>   claimed by that agent (a directory only it renames into)
 * <dir>/retrying/<jobId>            a job waiting out a retry's backoff ("<attempt> <notBefore>")
 * <dir>/waiting/<shard>/<jobId>/    a job waiting for the jobs it depends on: one empty file per
 *                                   dependency not yet seen succeeded, named by its id; the job is
 *                                   queued by whoever removes the emptied directory
 * <dir>/dependents/<shard>/<depId>/<jobId>  job <jobId> depends on job <depId> (the reverse index
 *                                   a published result's dependents are found by)
 * <dir>/results/<shard>/<jobId>     write-once result
 * <dir>/cancelled/<shard>/<jobId>   cancellation request
 * <dir>/retried/<shard>/<jobId>.<ms> a failed result set aside by `retry` (kept until `clean`)
 * <dir>/keys/<shard>/<keyHash>      the id of the job submitted with that key (write-once)
 * <dir>/logs/<shard>/<jobId>.out    job stdout (and .err)
 * <dir>/agents/<agentId>            an agent's lease (<agentId>.lost once given up on)
 * <dir>/tmp/                        files being written
 * ```
 *
 * Ids of chunk members (`<chunkName>-<index>`) name their queue markers, results, logs and so on
 * like any job's; only their specs share a file.
 */
export const directoryLayout = {
  formatFile: (dir: string) => join(dir, "format"),
  secretKeyFile: (dir: string) => join(dir, "key"),
  signalFile: (dir: string) => join(dir, "signal"),
  specsDir: (dir: string) => join(dir, "specs"),
  specsShardDir: (dir: string, shard: string) => join(dir, "specs", shard),
  /** The file that holds the job's spec: its own, or its chunk's (see `readJobSpecBytes`). */
  specFile: (dir: string, jobId: string) => join(dir, "specs", shardOf(jobId), chunkMemberOf(jobId)?.chunkName ?? jobId),
  specChunkFile: (dir: string, chunkName: string) => join(dir, "specs", shardOf(chunkName), chunkName),
  removedSpecFile: (dir: string, jobId: string) => join(dir, "specs", shardOf(jobId), `${jobId}${REMOVED_SPEC_SUFFIX}`),
  queuedDir: (dir: string) => join(dir, "queued"),
  queuedShardDir: (dir: string, shard: string) => join(dir, "queued", shard),
  queuedFile: (dir: string, jobId: string) => join(dir, "queued", shardOf(jobId), jobId),
  runningDir: (dir: string) => join(dir, "running"),
  agentRunningDir: (dir: string, agentId: string) => join(dir, "running", agentId),
  runningFile: (dir: string, agentId: string, jobId: string) => join(dir, "running", agentId, jobId),
  retryingDir: (dir: string) => join(dir, "retrying"),
  retryingFile: (dir: string, jobId: string) => join(dir, "retrying", jobId),
  waitingDir: (dir: string) => join(dir, "waiting"),
  waitingShardDir: (dir: string, shard: string) => join(dir, "waiting", shard),
  waitingJobDir: (dir: string, jobId: string) => join(dir, "waiting", shardOf(jobId), jobId),
  waitingEntryFile: (dir: string, jobId: string, depId: string) => join(dir, "waiting", shardOf(jobId), jobId, depId),
  dependentsOfDir: (dir: string, depId: string) => join(dir, "dependents", shardOf(depId), depId),
  dependentFile: (dir: string, depId: string, jobId: string) => join(dir, "dependents", shardOf(depId), depId, jobId),
  resultsDir: (dir: string) => join(dir, "results"),
  resultsShardDir: (dir: string, shard: string) => join(dir, "results", shard),
  resultFile: (dir: string, jobId: string) => join(dir, "results", shardOf(jobId), jobId),
  cancelledDir: (dir: string) => join(dir, "cancelled"),
  cancelFile: (dir: string, jobId: string) => join(dir, "cancelled", shardOf(jobId), jobId),
  retriedShardDir: (dir: string, shard: string) => join(dir, "retried", shard),
  retriedResultFile: (dir: string, jobId: string, setAsideAt: number) => join(dir, "retried", shardOf(jobId), `${jobId}.${setAsideAt}`),
  keysShardDir: (dir: string, shard: string) => join(dir, "keys", shard),
  keyFile: (dir: string, keyHash: string) => join(dir, "keys", keyHash.charAt(0), keyHash),
  logsDir: (dir: string) => join(dir, "logs"),
  stdoutFile: (dir: string, jobId: string) => join(dir, "logs", shardOf(jobId), `${jobId}.out`),
  stderrFile: (dir: string, jobId: string) => join(dir, "logs", shardOf(jobId), `${jobId}.err`),
  agentsDir: (dir: string) => join(dir, "agents"),
  leaseFile: (dir: string, agentId: string) => join(dir, "agents", agentId),
  lostLeaseFile: (dir: string, agentId: string) => join(dir, "agents", `${agentId}.lost`),
  tmpDir: (dir: string) => join(dir, "tmp"),
} as const;

/** The directories that hold one sub-directory per shard. */
export const SHARDED_DIRS = ["specs", "waiting", "dependents", "queued", "results", "cancelled", "retried", "keys", "logs"] as const;
