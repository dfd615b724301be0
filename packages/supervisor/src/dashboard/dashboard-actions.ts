import {
  cancelJobs,
  followLogs,
  prepareSharedDirectory,
  readLogs,
  retryJobs,
  type CancelOutcome,
  type FollowLogsOptions,
  type JobLogs,
  type LogEvent,
  type RetryOutcome,
} from "@malocher/store";
import { announceCancelled, announceSubmitted } from "../submit/announce-submitted.js";

/** What the dashboard does to a directory's jobs: the store's transitions, then the agents told (as `Malocher`'s methods do). */
export interface DashboardActions {
  readonly dir: string;
  cancel(jobIds: readonly string[]): Promise<Record<string, CancelOutcome>>;
  retry(jobIds: readonly string[]): Promise<Record<string, RetryOutcome>>;
  logs(jobId: string): Promise<JobLogs>;
  followLogs(jobId: string, options: FollowLogsOptions): AsyncIterable<LogEvent>;
}

/** The actions on `dir` (ids are checked by the API before they get here). */
export function directoryActions(dir: string, allowSharedWriters: boolean): DashboardActions {
  return {
    dir,
    async cancel(jobIds) {
      const outcomes = await cancelJobs(dir, [...jobIds]);
      announceCancelled(dir, [...jobIds]); // in-process clusters kill them now; agents elsewhere see the markers
      return outcomes;
    },
    async retry(jobIds) {
      prepareSharedDirectory(dir, { create: false, allowSharedWriters });
      const outcomes = await retryJobs(dir, [...jobIds]);
      if (Object.values(outcomes).includes("requeued")) announceSubmitted(dir, Infinity); // retried jobs may ask for any node
      return outcomes;
    },
    logs: (jobId) => readLogs(dir, jobId),
    followLogs: (jobId, options) => followLogs(dir, jobId, options),
  };
}
