import { MalocherError } from "./malocher-error.js";
import { numberField, stringArrayField, stringField } from "./record-fields.js";

/**
 * How an agent's messages travel: a WebSocket through an SSH remote forward (or straight to the
 * supervisor in local mode), or length-prefixed frames on the agent's own stdin/stdout when the
 * node's sshd refuses port forwarding (`AllowTcpForwarding no`).
 */
export type TransportKind = "websocket" | "stdio";

/**
 * What an agent started inside a Slurm allocation knows about it (see `SlurmAllocationClock` in
 * the agent). The allocation's end itself the agent asks Slurm (`squeue -j $SLURM_JOB_ID -o %e`).
 */
export interface SlurmAgentSettings {
  /** The allocation's time limit in ms: a job whose timeoutMs does not fit in it can never run in one. */
  timeLimitMs: number;
  /**
   * The agent stops this long before the allocation's end, putting its running jobs back in the
   * queue without counting an attempt (before Slurm's SIGTERM reaches every process of the step).
   */
  stopMarginMs: number;
  /** The agent leaves after this long without a job (and without its supervisor). */
  idleTimeoutMs: number;
  /** Appears when Slurm warned that the allocation ends soon (its batch script creates it on `B:USR1`). */
  warningFile: string;
  /**
   * How long before the end Slurm was asked to warn (`--signal=B:USR1@<lead>`). Slurm may warn up
   * to a minute early: the agent drains no earlier than this long before the end it read.
   */
  warningLeadMs: number;
}

/**
 * What the supervisor tells an agent at launch, as one JSON line on the agent's stdin, or (Slurm)
 * in a file of its own, mode 0600 in the 0700 shared directory, that it reads and removes; never
 * argv or the environment: it holds the tunnel token.
 */
export interface AgentLaunchConfig {
  /** Chosen by the supervisor, unique per launch; names the agent's running directory and lease. */
  agentId: string;
  /** The shared directory, as the node sees it. */
  dir: string;
  /** How the agent talks to its supervisor; with `stdio`, `port` and `token` are unused. */
  transport: TransportKind;
  /** Where the agent's WebSocket connects: `ws://127.0.0.1:<port>/`. */
  port: number;
  /** The per-run secret the supervisor checks on connect (empty with `stdio`: the SSH channel is the authentication). */
  token: string;
  /** The machine as the user named it; stamped on every result. */
  host: string;
  /** Jobs at once; 0 means the node's CPU count. */
  slots: number;
  /** The node's labels (hosts file: `8/alice@gpu1 gpu fast`); jobs may ask for one with `on`. */
  labels: string[];
  /** How long the agent keeps running without its WebSocket before it stops its jobs and exits. */
  disconnectGraceMs: number;
  /** Work in a directory others can write to (a deliberate group setup); warn instead of refusing. */
  allowSharedWriters: boolean;
  /** The host the agent's WebSocket dials (an agent in a Slurm allocation); default 127.0.0.1. */
  address?: string;
  /** Set when Slurm started the agent. */
  slurm?: SlurmAgentSettings;
  /**
   * Files the run's jobs need that the submitter has (the modules of the jobs it submitted): an
   * agent that does not see one at the same path says so at its start, once, instead of every
   * job failing to import it.
   */
  mustSee: string[];
}

/** Parses and validates the launch line. */
export function parseAgentLaunchConfig(line: string): AgentLaunchConfig {
  try {
    const record = JSON.parse(line) as unknown;
    if (typeof record !== "object" || record === null) throw new TypeError("not an object");
    const fields = record as Record<string, unknown>;
    const transport = fields["transport"] ?? "websocket";
    if (transport !== "websocket" && transport !== "stdio") throw new TypeError(`field "transport" should be "websocket" or "stdio"`);
    return {
      transport,
      agentId: stringField(fields, "agentId"),
      dir: stringField(fields, "dir"),
      port: numberField(fields, "port"),
      token: stringField(fields, "token"),
      host: stringField(fields, "host"),
      slots: numberField(fields, "slots"),
      labels: fields["labels"] === undefined ? [] : stringArrayField(fields, "labels"),
      disconnectGraceMs: numberField(fields, "disconnectGraceMs"),
      allowSharedWriters: fields["allowSharedWriters"] === true,
      ...(fields["address"] === undefined ? {} : { address: stringField(fields, "address") }),
      ...(fields["slurm"] === undefined ? {} : { slurm: slurmField(fields["slurm"]) }),
      mustSee: fields["mustSee"] === undefined ? [] : stringArrayField(fields, "mustSee"),
    };
  } catch (error) {
    throw new MalocherError("PROTOCOL_ERROR", `Invalid agent launch config: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function slurmField(value: unknown): SlurmAgentSettings {
  if (typeof value !== "object" || value === null) throw new TypeError(`field "slurm" should be an object`);
  const fields = value as Record<string, unknown>;
  return {
    timeLimitMs: numberField(fields, "timeLimitMs"),
    stopMarginMs: numberField(fields, "stopMarginMs"),
    idleTimeoutMs: numberField(fields, "idleTimeoutMs"),
    warningFile: stringField(fields, "warningFile"),
    warningLeadMs: numberField(fields, "warningLeadMs"),
  };
}
