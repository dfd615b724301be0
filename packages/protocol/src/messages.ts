/**
 * Messages between an agent and its supervisor (on a WebSocket, or as length-prefixed frames on
 * the agent's stdin/stdout): small control frames only.
 * Job specs, arguments, results and logs travel through the shared directory.
 */
import type { RetryReason } from "./retry-reason.js";

/** Agent → supervisor: the first frame after the connection is accepted. */
export interface HelloMessage {
  type: "hello";
  agentId: string;
  /** The machine as the user named it (from the launch config). */
  host: string;
  /** The node's own host name. */
  hostname: string;
  pid: number;
  slots: number;
  /** Malocher package version and wire protocol version of the agent. */
  version: string;
  protocolVersion: number;
}

/** Agent → supervisor, every second. */
export interface HeartbeatMessage {
  type: "heartbeat";
  running: number;
  /** The node's one-minute load average. */
  load: number;
  /** The node's CPU use since the last heartbeat, 0 to 1 over all its cores (agents before 0.1 left it out). */
  cpu?: number;
  /** The node's memory: bytes in use and in total (`os.totalmem() - os.freemem()`, `os.totalmem()`). */
  memoryUsed?: number;
  memoryTotal?: number;
  /**
   * The longest kill grace of the jobs running on the agent, when one is longer than the run's
   * `killGraceMs` (a job's own `killGraceMs`): a supervisor that stops the agent waits that much
   * longer (see stop-deadline.ts).
   */
  longestKillGraceMs?: number;
}

/** Agent → supervisor, once: every slot's warm worker has started; jobs start without delay now. */
export interface WarmMessage {
  type: "warm";
}

export interface JobStartedMessage {
  type: "jobStarted";
  jobId: string;
  attempt: number;
  /** The worker slot it runs in, 1 to the node's slots (its `MALOCHER_SLOT`); older agents leave it out. */
  slot?: number;
}

export interface JobFinishedMessage {
  type: "jobFinished";
  jobId: string;
  ok: boolean;
  durationMs: number;
  /**
   * The bytes of the result file this agent published, when they are small: results are
   * write-once, so the file holds exactly these, and the supervisor need not read it back.
   */
  resultFile?: Uint8Array;
}

/**
 * Agent → supervisor: a job's attempt failed and it will be retried as attempt `attempt`; it waits
 * in `retrying/` until `notBefore` (ms since the epoch, the agent's clock), held by no agent.
 * `error`: why the attempt failed.
 */
export interface JobRetryingMessage {
  type: "jobRetrying";
  jobId: string;
  attempt: number;
  notBefore: number;
  error: RetryReason;
}

/**
 * Agent → supervisor: a claimed job asks for what this node lacks (a label, more slots); the
 * agent put it back and will not take it again. When every node said so, the job cannot run.
 */
export interface MisfitMessage {
  type: "misfit";
  jobId: string;
  reason: string;
}

/**
 * Agent → supervisor: publishing job `jobId`'s result settled jobs that waited for it: `queued`
 * were queued (all they depend on succeeded), `failed` ended `DEPENDENCY_FAILED` (down the chain).
 */
export interface DependentsSettledMessage {
  type: "dependentsSettled";
  jobId: string;
  queued: string[];
  failed: string[];
}

/**
 * Agent → supervisor, as it stops: running jobs that its stop (or Slurm, ending the allocation)
 * ended and that it put back in the queue; they run again as the same attempt. `reason`: why the
 * agent stopped, in its words (the first line).
 */
export interface JobsRequeuedMessage {
  type: "jobsRequeued";
  jobIds: string[];
  reason: string;
}

export interface ByeMessage {
  type: "bye";
  reason: string;
}

/** Every frame an agent sends. */
export type AgentMessage =
  | HelloMessage
  | HeartbeatMessage
  | WarmMessage
  | JobStartedMessage
  | JobFinishedMessage
  | JobRetryingMessage
  | JobsRequeuedMessage
  | MisfitMessage
  | DependentsSettledMessage
  | ByeMessage;

/** The run's defaults for jobs that do not set their own (`processAll` options). */
export interface RunSettings {
  /** 0: no limit. */
  timeoutMs: number;
  retries: number;
  retryOnError: boolean;
  /** SIGTERM, then SIGKILL this much later, for a job that is killed. */
  killGraceMs: number;
  /** A drain that has not ended this long after it began requeues its running jobs and stops (0: no deadline). */
  drainTimeoutMs: number;
  /** A warm worker is replaced after this many jobs. */
  maxJobsPerWorker: number;
  /** A worker growing past this (heap limit and resident memory) fails its job with JOB_OUT_OF_MEMORY. */
  maxWorkerMemoryMb: number;
  /** Each attempt's log keeps at most this many bytes per stream (the tail, after a cut note). */
  maxLogBytes: number;
  /** Variables every job of the run gets; a job's own `env` entries win over these. */
  env: Record<string, string>;
  /** The working directory of the run's jobs that did not name their own (`submit.with({ cwd })`). */
  cwd?: string;
}

/** Supervisor → agent: the answer to a compatible `hello`. */
export interface WelcomeMessage {
  type: "welcome";
  settings: RunSettings;
  /** When set, the agent claims only these jobs (`processAll({ jobs })`). */
  onlyJobs?: string[];
}

/** Supervisor → agent: kill these jobs if running here; their results say `JOB_CANCELLED`. */
export interface CancelMessage {
  type: "cancel";
  jobIds: string[];
}

/** Supervisor → agent: claim nothing more; finish the running jobs, then stop. */
export interface DrainMessage {
  type: "drain";
}

/** Supervisor → agent: new jobs may be queued; scan now. */
export interface NudgeMessage {
  type: "nudge";
  /**
   * The jobs queued, when a nudge is for one `submit()`: the agent tries to claim them before it
   * reads the queue (reading it was a millisecond of a warm job's way from its nudge to its claim).
   */
  jobIds?: string[];
}

/** Supervisor → agent: stop claiming, kill running jobs, exit. */
export interface StopMessage {
  type: "stop";
  reason: string;
}

/** Every frame a supervisor sends. */
export type SupervisorMessage = WelcomeMessage | NudgeMessage | StopMessage | CancelMessage | DrainMessage;
