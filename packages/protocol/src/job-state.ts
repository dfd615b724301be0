/**
 * The closed set of job states. A job's state is decided by exactly one rule (the store's
 * `decideJobState`), with a fixed precedence: a result beats a cancel request, which beats a
 * claim (running), which beats a retry's marker (retrying: waiting out its backoff), which beats
 * a queue marker (queued), which beats a waiting marker (waiting: for the jobs it depends on to
 * succeed).
 */
export const JOB_STATES = ["waiting", "queued", "retrying", "running", "succeeded", "failed", "cancelled"] as const;

/** One of {@link JOB_STATES}. */
export type JobState = (typeof JOB_STATES)[number];
