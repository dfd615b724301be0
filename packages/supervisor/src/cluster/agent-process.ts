import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { realpathSync } from "node:fs";
import { MalocherError, type AgentLaunchConfig, type TransportKind } from "@malocher/protocol";
import type { Duplex } from "node:stream";
import type { AgentTransport } from "./agent-transport.js";
import type { AgentConnection } from "./agent-connection.js";

/** A started agent process, on a node or on this machine. */
export interface AgentProcess {
  /** How the agent's messages travel (`stdio` when its node refuses port forwarding). */
  readonly transport: TransportKind;
  /** With the `stdio` transport: the agent's exec channel, to be admitted by the agent server. */
  readonly stdio?: AgentTransport;
  /** Resolves with a description once the agent process (or its SSH session) has ended. */
  readonly ended: Promise<string>;
  /** The last lines the agent wrote to stderr, for error messages. */
  outputTail(): string;
  /** Told the agent's connection once it said hello (a Slurm agent's `close()` waits for it to close). */
  attachConnection?(connection: AgentConnection): void;
  /**
   * Ends the agent's stdin: it stops claiming, kills its jobs, puts their claims back and exits.
   * Waits for that up to `stopWaitMs()` from the call (asked again when that time is up, so a
   * longer kill grace the agent told of meanwhile still counts: see `supervisorStopWaitMs`), then
   * gives up on it and releases the connection. Idempotent.
   */
  close(stopWaitMs: () => number): Promise<void>;
}

/** Where agents' WebSockets arrive: the agent server's local port, or an SSH tunnel's channel handed over. */
export interface AgentEndpoint {
  /** The port on 127.0.0.1 (for an agent on this machine). */
  readonly port: number;
  /** Takes a connection that came through an SSH remote forward. */
  acceptTunnel(stream: Duplex): void;
}

/**
 * Starts one agent with this launch config (the port and the transport are the launcher's
 * business). `signal` abandons a launch still under way (the run ended).
 */
export type AgentLauncher = (config: Omit<AgentLaunchConfig, "port" | "transport">, endpoint: AgentEndpoint, signal: AbortSignal) => Promise<AgentProcess>;

/**
 * The agent's command line on a node: this very Node executable and agent script (the agent
 * bundled into one file by the build), which a shared file system puts at the same paths everywhere.
 */
export function agentCommand(): { node: string; script: string } {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve("@malocher/agent/package.json");
  const script = join(dirname(packageJson), "dist", "bundle", "main.js");
  try {
    return { node: process.execPath, script: realpathSync(script) };
  } catch (error) {
    throw new MalocherError("AGENT_START_FAILED", `The agent's program ${script} is missing: the agent package was built without its bundle. Run \`npm run build\` in Malocher's workspace.`, {
      cause: error,
    });
  }
}

/** Keeps the last `max` characters of a stream's text. */
export class OutputTail {
  private text = "";
  constructor(private readonly max = 4000) {}

  push(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-this.max);
    if (process.env["MALOCHER_DEBUG"]) process.stderr.write(chunk);
  }

  toString(): string {
    return this.text.trim();
  }
}

/**
 * Gives up waiting for `promise` (resolves undefined) once `ms` has passed since the call. With a
 * function, the limit is asked again when it is up, and the wait goes on if it grew meanwhile.
 */
export function within<T>(promise: Promise<T>, ms: number | (() => number)): Promise<T | undefined> {
  const limitMs = typeof ms === "number" ? () => ms : ms;
  const since = performance.now();
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const check = () => {
      const leftMs = since + limitMs() - performance.now();
      if (leftMs <= 0) resolve(undefined);
      else timer = setTimeout(check, leftMs);
    };
    check();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}
