/**
 * How long stopping an agent may take, decided here and nowhere else. A stop ends every running
 * job gracefully (SIGTERM to its process group, SIGKILL its `killGraceMs` later: the run's
 * `RunSettings.killGraceMs`, or the job's own `options.killGraceMs`), then puts the claims back,
 * removes the lease and says bye. Two deadlines follow from the longest grace a running job has:
 * - the agent's own: past it, the agent exits regardless (its workers take their process groups
 *   down with it), so a stop never hangs on a worker or the file system (agent `main.ts`);
 * - the supervisor's: how long it waits for an agent it asked to stop before it gives up on it
 *   (a local agent is killed, an SSH session hung up, a Slurm allocation cancelled). It knows the
 *   run's grace, and a longer one of a running job from the agent's heartbeats
 *   (`HeartbeatMessage.longestKillGraceMs`).
 * Both are the grace plus a margin, so a job that traps SIGTERM gets all of its grace however long.
 */

/**
 * What an agent's stop takes beyond its jobs' grace: up to 5 s for a SIGKILLed process group to be
 * gone (`terminateProcessGroup`), then putting the claims back, removing the lease and saying bye,
 * on a shared file system that may be slow. With the default grace (5 s), 15 s in all.
 */
export const AGENT_STOP_MARGIN_MS = 10_000;

/**
 * How long before a Slurm allocation's end its agent stops a job whose kill grace is
 * `killGraceMs`: the allocation's own margin (`SlurmAgentSettings.stopMarginMs`), or longer when
 * the grace needs it, so that SIGTERM, and SIGKILL `killGraceMs` later, both come before Slurm's
 * own SIGTERM to the whole step.
 *
 * @example
 * slurmStopMarginMs(6_000, 20_000); // 21_000: a job that traps SIGTERM gets its 20 s before the end
 */
export function slurmStopMarginMs(allocationMarginMs: number, killGraceMs: number): number {
  return Math.max(allocationMarginMs, killGraceMs + 1000);
}

/** What a supervisor waits beyond the agent's own deadline: the stop on its way, the agent's exit. */
export const SUPERVISOR_STOP_MARGIN_MS = 5_000;

/**
 * How long an agent's graceful stop may take before it exits regardless, when the longest kill
 * grace of its running jobs (or the run's) is `longestKillGraceMs`.
 *
 * @example
 * agentStopDeadlineMs(30_000); // 40_000: a job that traps SIGTERM gets its 30 s
 */
export function agentStopDeadlineMs(longestKillGraceMs: number): number {
  return Math.max(0, longestKillGraceMs) + AGENT_STOP_MARGIN_MS;
}

/**
 * How long a supervisor waits for an agent it asked to stop (its stdin closed, `stop` sent) before
 * it gives up on it: the agent's own deadline plus {@link SUPERVISOR_STOP_MARGIN_MS}, so that the
 * agent's deadline, not the supervisor's, decides.
 */
export function supervisorStopWaitMs(longestKillGraceMs: number): number {
  return agentStopDeadlineMs(longestKillGraceMs) + SUPERVISOR_STOP_MARGIN_MS;
}
