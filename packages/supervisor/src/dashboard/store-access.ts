/**
 * What the dashboard reads from the shared directory, in one place: the store's own functions
 * (job listing, results, state, logs, spec), so the dashboard never decides a job's state itself.
 */
export {
  listJobIds,
  listClaims,
  listRetrying,
  listWaitingIds,
  readStoredResult,
  decideJobState,
  finishedState,
  emptyStateCounts,
  readJobNameAndTags,
  readLeaseHost,
  jobExists,
  listDependents,
  readDirectoryStatus,
  readJobSpecBytes,
  loadDirectoryKey,
  readRegularFileSync,
  type DirectoryStatus,
} from "@malocher/store";
