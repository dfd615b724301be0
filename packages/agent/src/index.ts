export { Agent, type AgentState } from "./agent.js";
export { prepareSharedDirectory } from "./store/shared-directory.js";
export { loadDirectoryKey } from "./store/directory-key.js";
export { claimJob, parseAttempt, type ClaimedJob } from "./store/claim-job.js";
export { publishResult } from "./store/publish-result.js";
export { releaseClaim } from "./store/release-claim.js";
export { requeueClaim } from "./store/requeue-claim.js";
export { writeFileAtomic, writeFileAtomicSync, writeFileOnce, writeFileOnceSync, tmpPath } from "./store/write-file-atomic.js";
export { markLeaseLost } from "./store/agent-lease.js";
