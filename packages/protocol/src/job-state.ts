/**
 * The closed set of job states. A job's state is read from the shared directory by exactly one
 * function (the supervisor's `readJobState`), with a fixed precedence: a result beats a claim,
 * which beats a queue marker.
 */
export const JOB_STATES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;

/** One of {@link JOB_STATES}. */
export type JobState = (typeof JOB_STATES)[number];
