/** Runs a command on a real pseudo-terminal (through python3's pty module), for tests of TTY output and prompts. */
import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { childrenOf, killGroupAfter } from "./processes.js";

const RELAY = fileURLToPath(new URL("./pty-relay.py", import.meta.url));

/** What a test may do to a command on a pseudo-terminal while it runs. */
export interface PtyControl {
  /** Types into the terminal. */
  type(text: string): void;
  /** Sends a signal to the command. */
  signal(name: NodeJS.Signals): void;
  /** Resizes the terminal (the command gets SIGWINCH). */
  resize(columns: number, rows: number): void;
}

/** Done once the output (since the previous answer) matches `after`. */
export interface PtyAnswer {
  after: RegExp;
  act: (terminal: PtyControl) => void;
}

export interface PtyRunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The terminal's size; default 100 × 30. */
  columns?: number;
  rows?: number;
  answers?: PtyAnswer[];
  timeoutMs?: number;
}

export interface PtyRun {
  code: number | null;
  /** Everything written to the terminal (stdout and stderr mixed, as a terminal gets them), escape sequences included. */
  output: string;
  timedOut: boolean;
  /** Answers that were never sent, because their prompt did not come. */
  unanswered: number;
}

/** Runs `argv` with a pseudo-terminal as its stdin, stdout, stderr and controlling terminal. */
export function runInPty(argv: string[], options: PtyRunOptions = {}): Promise<PtyRun> {
  const child = spawn("python3", [RELAY, String(options.columns ?? 100), String(options.rows ?? 30), ...argv], {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: options.env ?? process.env,
    stdio: ["pipe", "pipe", "inherit", "pipe"], // fd 3: "COLUMNS ROWS" lines resize the terminal
    // Its own process group, killed at the deadline; the command (in the terminal's session) then gets SIGHUP.
    detached: true,
  });
  const [stdin, stdout, , sizes] = child.stdio as unknown as [Writable, Readable, null, Writable];
  const control: PtyControl = {
    type: (text) => stdin.write(text),
    signal: (name) => childrenOf(child.pid!).forEach((pid) => process.kill(pid, name)),
    resize: (columns, rows) => sizes.write(`${columns} ${rows}\n`),
  };
  const answers = [...(options.answers ?? [])];
  let output = "";
  let answeredUpTo = 0;
  stdout.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
    const next = answers[0];
    if (next !== undefined && next.after.test(output.slice(answeredUpTo))) {
      answers.shift();
      answeredUpTo = output.length;
      next.act(control);
    }
  });
  const deadline = killGroupAfter(child, options.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      deadline.clear();
      resolve({ code, output, timedOut: deadline.passed(), unanswered: answers.length });
    });
  });
}

/** The text a terminal shows of `output`, roughly: escape sequences removed (for matching words). */
export function withoutEscapes(output: string): string {
  return output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}
