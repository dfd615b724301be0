/**
 * The job store: every read and every transition of the shared directory (see docs/ARCHITECTURE.md).
 * The agent and the supervisor change the directory only through these functions.
 */
export { encodeLease, decodeLease, renewLease, leaseExists, readLeaseHost, readAllLeases, removeLease, removeLostLease, markLeaseLost, type AgentLease, type LeaseEntry } from "./agent-lease.js";
export { cancelJobs, type CancelOutcome } from "./cancel-job.js";
export { checkDirectorySecurity, describeOwner, type DirectorySecurityOptions } from "./check-directory-security.js";
export { plantedSymlinks } from "./planted-symlinks.js";
export { claimJob, openClaimDirectory, closeClaimDirectory, listOwnClaims, type ClaimedJob } from "./claim-job.js";
export { enqueueJob, parseAttempt, parseNotBefore, requeueClaim, deferRetry, listRetrying, queueDueRetries } from "./queue-marker.js";
export { cleanJobs, type CleanOptions, type CleanedJob } from "./clean-jobs.js";
export { describeFileOwner } from "./describe-file-owner.js";
export { loadDirectoryKey } from "./directory-key.js";
export { readDirectoryStatus, type DirectoryStatus } from "./directory-status.js";
export { listJobs, readSpec, whatItRuns, LISTED_JOB_STATES, type JobListing, type JobFilter } from "./list-jobs.js";
export { failQueuedJob } from "./fail-queued-job.js";
export { followLogs, type LogEvent, type FollowLogsOptions } from "./follow-logs.js";
export { jobExists } from "./job-exists.js";
export { listJobIds, listFinishedIds, submittedAmong, finishedAmong, listQueuedIds, listCancelledIds, listClaims } from "./job-listing.js";
export { lookUpJob, withCancelLookedUpAgain, isCancelRequested, type JobLookups } from "./look-up-job.js";
export { pathExists } from "./path-exists.js";
export { publishResult, type SettledDependents } from "./publish-result.js";
export { DependencyStates, checkDependenciesExist, readJobDependencies, listUnfinishedDependencies, type DependencyState } from "./dependency-state.js";
export { listWaitingIds, countWaiting, sweepWaitingJobs } from "./wait-for-dependencies.js";
export { listDependents, rearmDependents, setAsideResult } from "./settle-dependents.js";
export { QueueScanner } from "./queue-scanner.js";
export { readJobNameAndTags } from "./read-job-name-and-tags.js";
export { readJobSpecBytes } from "./read-job-spec-bytes.js";
export { decideJobState, finishedState, decideStartGate, readJobState, emptyStateCounts, type JobFacts, type StartGate } from "./read-job-state.js";
export { readLogs, type JobLogs } from "./read-logs.js";
export { readStoredResult, readResult, readResultForState, readResultOrFailure, readAllResults } from "./read-result.js";
export { readSpecChunkMembers } from "./read-spec-chunk-members.js";
export { recoverAgentJobs, type Recovery } from "./recover-agent-jobs.js";
export { OrphanedJobs } from "./recover-orphaned-jobs.js";
export { releaseClaim } from "./release-claim.js";
export { LeaseObserver, requeueStaleJobs } from "./requeue-stale-jobs.js";
export { retryJobs, rerunKeyedJob, type RetryOutcome, type KeyedJobOutcome } from "./retry-job.js";
export { prepareSharedDirectory, type PrepareOptions } from "./shared-directory.js";
export { touchSignalFile } from "./signal-file.js";
export { SpecChunkCache } from "./spec-chunk-cache.js";
export { submitChunk, type SpecChunk } from "./submit-chunk.js";
export { submitJob } from "./submit-job.js";
export { keyedJobDifference } from "./keyed-job-difference.js";
export { appendLogNote } from "./log-note.js";
export {
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
  checkRegularFile,
  createFile,
  createFileSync,
  makePrivateDir,
  makePrivateDirSync,
  openLogForAppend,
  rewriteLogThrough,
  openRegularFile,
  MAX_READ_BYTES,
  readRegularFile,
  readRegularFileSync,
  readRegularFileTailSync,
  readRegularText,
  rewriteFileSync,
  type ReadLimits,
} from "./safe-file.js";
export { tmpPath, writeFileAtomic, writeFileAtomicSync, writeFileOnce, writeFileOnceSync } from "./write-file-atomic.js";
