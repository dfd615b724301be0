export { submit, submitMany, submitCommand, processAll, result, results, cancel, retry, retryFailed, clean, startCluster } from "./default-malocher.js";
export { Malocher, type MalocherOptions, type SubmitFunction } from "./malocher.js";
export { isMain } from "./is-main.js";
export { checkNodes, type NodeCheck, type NodeCheckItem, type NodeCheckName } from "./check-nodes.js";
export { secret, SecretValue } from "./submit/secret.js";
export { resultOf } from "./submit/result-of.js";
export {
  MalocherError,
  unloadedClassOf,
  type ErrorCode,
  type JobResult,
  type JobError,
  type FunctionRef,
  type JobState,
  type MalocherEncodable,
  type ModuleClassRef,
} from "@malocher/protocol";
export type { CommandOutput } from "@malocher/protocol";
export type { ProcessAllOptions, RunOptions } from "./process-all.js";
export type { ClusterOptions } from "./cluster-options.js";
export type { SlurmOptions } from "./cluster/slurm/slurm-options.js";
export type { AllocationStatus, AllocationState } from "./cluster/slurm/slurm-allocations.js";
export type { StartedCluster } from "./started-cluster.js";
export type { JobOptions, CommandJobOptions } from "./submit/job-options.js";
export type { BatchOptions } from "./submit/submit-many.js";
export type { ResultWaitOptions } from "./results/wait-for-result.js";
export type { SshOptions } from "./ssh/node-target.js";
export type { RunEvent } from "./cluster/cluster.js";
export type { ProgressReport, NodeProgress } from "./run-tally.js";
export type { NodeState } from "./cluster/node-session.js";
export type { TransportKind } from "@malocher/protocol";
export type { DirectoryStatus, JobListing, JobFilter } from "@malocher/store";
export type { JobLogs } from "@malocher/store";
export type { CancelOutcome } from "@malocher/store";
export type { RetryOutcome } from "@malocher/store";
export type { CleanOptions, CleanedJob } from "@malocher/store";
export type { LogEvent, FollowLogsOptions } from "@malocher/store";
export type { Dashboard, DashboardOptions } from "./dashboard/dashboard-options.js";
