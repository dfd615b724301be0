/**
 * What the dashboard reads from the shared directory, in one place: the store's own functions
 * (job listing, results, state, logs, spec), so the dashboard never decides a job's state itself.
 */
export { listJobIds, listClaims } from "../store/job-listing.js";
export { readStoredResult } from "../store/read-result.js";
export { decideJobState } from "../store/read-job-state.js";
export { readJobNameAndTags } from "../store/read-job-name-and-tags.js";
export { jobExists } from "../store/job-exists.js";
export { readDirectoryStatus, type DirectoryStatus } from "../store/directory-status.js";
export { readJobSpecBytes, loadDirectoryKey } from "@malocher/agent";
