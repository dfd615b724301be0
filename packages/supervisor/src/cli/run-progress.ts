import { agentOfLine } from "@malocher/protocol";
import type { RunEvent } from "../cluster/cluster.js";
import { RunTally, type RunOutcome } from "../run-tally.js";
import { terminalPrompts } from "../ssh/terminal-secret.js";
import { allocationLine, progressFrame, progressSummary } from "./progress-frame.js";

/** How often the TTY view redraws. */
const REDRAW_MS = 250;
/** How often plain output prints the totals. */
const PLAIN_SUMMARY_MS = 5000;

const HIDE_CURSOR = "\x1b[?25l";
const SHOW_CURSOR = "\x1b[?25h";
/** Terminals that know synchronized output (mode 2026) show a frame at once; others ignore it. */
const BEGIN_FRAME = "\x1b[?2026h";
const END_FRAME = "\x1b[?2026l";
const CLEAR_LINE = "\x1b[2K";
const CLEAR_BELOW = "\x1b[J";
const linesUp = (count: number) => `\x1b[${count}F`;

/**
 * The live view of `malocher run`. On a TTY, a block redrawn in place (see `progressFrame`: a bar
 * with jobs/s and ETA, the counts, one line per node with its state and slots in use), cut to the
 * terminal's width, redrawn on resize, with the cursor hidden until the end (shown again on exit,
 * SIGTERM and SIGHUP too) and set aside while a passphrase prompt holds the terminal; plain lines
 * otherwise; JSON Lines with `--json`; nothing but failures with `--quiet`.
 */
export class RunProgress {
  private readonly tally = new RunTally();
  private drawnLines = 0;
  private lastFrame = "";
  private timer: NodeJS.Timeout | undefined;
  private cursorHidden = false;
  /** A passphrase prompt holds the terminal: the block is cleared and not drawn. */
  private paused = false;
  /** Hosts whose agent got ready at least once, and the last error of each host, for the closing line. */
  private readonly everReady = new Set<string>();
  private readonly lastError = new Map<string, string>();
  private finished = false;
  /** The run's size is known (its "run" event came): before, a frame would show 0/0 as 100 %. */
  private sized = false;
  /** Some event of the run came: it began. */
  private heard = false;
  private readonly showCursor = () => this.restoreCursor();
  /** Killed by a signal there is no "exit" event for: the cursor is shown, then the signal does what it would have. */
  private readonly showCursorAndDie = (signal: NodeJS.Signals) => {
    this.restoreCursor();
    this.stopListening();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  private readonly redraw = () => this.draw();
  private readonly pause = () => {
    this.clearBlock();
    this.restoreCursor();
    this.paused = true;
  };
  private readonly resume = () => {
    this.paused = false;
    this.hideCursor();
  };

  constructor(
    private readonly mode: "tty" | "plain" | "json" | "quiet",
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    if (mode === "tty") {
      this.hideCursor();
      process.on("exit", this.showCursor).on("SIGTERM", this.showCursorAndDie).on("SIGHUP", this.showCursorAndDie);
      this.out.on("resize", this.redraw);
      terminalPrompts.on("open", this.pause).on("close", this.resume);
      this.timer = setInterval(this.redraw, REDRAW_MS);
    }
    if (mode === "plain") this.timer = setInterval(() => this.note(progressSummary(this.tally.report())), PLAIN_SUMMARY_MS);
    this.timer?.unref();
  }

  /** Takes one event of the run. */
  onEvent(event: RunEvent): void {
    if (this.mode === "json") process.stdout.write(`${JSON.stringify(jsonEvent(event))}\n`);
    this.tally.onEvent(event);
    this.heard = true;
    if (event.type === "run") this.sized = true;
    if (event.type === "allocation") {
      // Pending with Slurm's reason, running with its time left, ended: each change is worth a line.
      if (this.mode === "plain") this.note(allocationLine(event));
      if (this.mode === "tty") this.draw();
      return;
    }
    if (event.type === "jobsRecovered") {
      if (this.mode !== "json") this.note(recoveredLine(event));
      return;
    }
    if (event.type === "jobRetrying") {
      // A retry leaves no result that would say why: said here, and in the job's log.
      if (this.mode !== "json") this.note(`job ${event.jobId}: an attempt failed on ${event.host}: [${event.error.code}] ${event.error.message}; it runs again as attempt ${event.attempt}`);
      return;
    }
    if (event.type !== "node") return;
    if (event.state === "ready") this.everReady.add(event.host);
    if (event.error !== undefined) this.lastError.set(event.host, gist(event.error.message));
    if (event.state === "failed" || event.state === "lost") {
      if (this.mode !== "json") this.note(`${event.host}: ${event.state}: ${event.error?.message ?? ""}`);
    } else if (this.mode === "plain") this.note(`${event.host}: ${event.state}`);
    if (this.mode === "tty") this.draw(); // a node's states are few and each is worth seeing
  }

  /** Counts one yielded result; `previous`: how the job ended before, when this result replaces that one (a retry). */
  onResult(outcome: RunOutcome, previous: RunOutcome | undefined, describeFailure: () => string): void {
    this.tally.onResult(outcome, previous);
    if (outcome !== "succeeded" && this.mode !== "json") this.note(describeFailure());
  }

  /**
   * Draws the final state (left on the screen), stops redrawing and shows the cursor again; then,
   * but for JSON, says which hosts were never used and why, and after a drain how many jobs stay
   * queued; `refused`: the run ended in an error, which, before any event, says it all. Returns how
   * many jobs the run left queued. Idempotent.
   */
  finish(how: { drained?: boolean; refused?: boolean } = {}): number {
    if (this.finished) return this.tally.report().queued;
    this.finished = true;
    clearInterval(this.timer);
    if (this.mode === "tty") {
      this.paused = false;
      this.draw();
      this.stopListening();
      this.restoreCursor();
    }
    // A run refused before it began (bad options) has no summary: its error says it all.
    if (this.mode === "plain" && !(how.refused && !this.heard)) this.note(progressSummary(this.tally.report()));
    const report = this.tally.report();
    if (this.mode === "json") return report.queued;
    const unused = report.nodes.filter((node) => !this.everReady.has(node.host));
    if (unused.length > 0) {
      const stateText = (state: string) => (state === "connecting" || state === "starting" || state === "restarting" ? `still ${state} when the run ended` : state);
      const why = unused.map((node) => `${node.host} (${this.lastError.get(node.host) ?? stateText(node.state)})`);
      this.out.write(`malocher: ${unused.length === 1 ? "1 host was" : `${unused.length} hosts were`} not used: ${why.join("; ")}\n`);
    }
    if (how.drained && report.queued > 0) {
      this.out.write(`malocher: drained: ${report.queued === 1 ? "1 job stays" : `${report.queued} jobs stay`} queued; \`malocher run\` runs them\n`);
    }
    return report.queued;
  }

  /** Writes `text` (a job's output) to `out`, above the live block on a TTY. */
  print(text: string, out: NodeJS.WritableStream): void {
    if (text === "") return;
    this.clearBlock();
    out.write(text);
  }

  /** Writes one line of its own (a failure, a warning), above the live block on a TTY. */
  note(text: string): void {
    this.clearBlock();
    this.out.write(`${text}\n`);
  }

  /** One write per frame, each line overwritten in place (no clearing first, so nothing flickers). */
  private draw(): void {
    if (this.paused || !this.sized) return;
    const lines = progressFrame(this.tally.report(), this.out.columns || 80);
    const frame = lines.map((line) => `${CLEAR_LINE}${line}\n`).join("");
    if (frame === this.lastFrame && this.drawnLines === lines.length) return;
    const up = this.drawnLines > 0 ? linesUp(this.drawnLines) : "";
    this.out.write(`${BEGIN_FRAME}${up}${frame}${CLEAR_BELOW}${END_FRAME}`);
    this.lastFrame = frame;
    this.drawnLines = lines.length;
  }

  private clearBlock(): void {
    if (this.mode === "tty" && this.drawnLines > 0) {
      this.out.write(`${linesUp(this.drawnLines)}${CLEAR_BELOW}`);
      this.drawnLines = 0;
    }
  }

  private stopListening(): void {
    process.off("exit", this.showCursor).off("SIGTERM", this.showCursorAndDie).off("SIGHUP", this.showCursorAndDie);
    this.out.off("resize", this.redraw);
    terminalPrompts.off("open", this.pause).off("close", this.resume);
  }

  private hideCursor(): void {
    if (this.cursorHidden) return;
    this.cursorHidden = true;
    this.out.write(HIDE_CURSOR);
  }

  private restoreCursor(): void {
    if (!this.cursorHidden) return;
    this.cursorHidden = false;
    this.out.write(SHOW_CURSOR);
  }
}

/** The longest reason the summary of unused hosts gives for one host. */
const MAX_GIST_CHARS = 300;

/**
 * A node's error in one line for the summary of unused hosts: its first line, and, when that
 * introduces what follows ("… Its last output:"), the line of that which says what went wrong:
 * the agent's own last words (`malocher agent: …`, `malocher agent <id>: …`), else an error's line (`TypeError: …`), else
 * its last line that is not Node's version or a stack frame.
 */
function gist(message: string): string {
  const lines = message.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  const [first = "", ...rest] = lines;
  const said =
    rest.findLast((line) => agentOfLine(line) !== undefined) ??
    rest.findLast((line) => /^[A-Za-z]*Error\b/.test(line)) ??
    rest.findLast((line) => !/^Node\.js v\d/.test(line) && !line.startsWith("at "));
  const text = first.endsWith(":") && said !== undefined ? `${first} ${said}` : first;
  return text.length > MAX_GIST_CHARS ? `${text.slice(0, MAX_GIST_CHARS - 1)}…` : text;
}

/** What became of the jobs a node was running when it went away: back to the queue, or failed when out of attempts. */
function recoveredLine(event: Extract<RunEvent, { type: "jobsRecovered" }>): string {
  const jobs = (count: number) => (count === 1 ? "1 job" : `${count} jobs`);
  const parts = [
    ...(event.requeued > 0 ? [`${jobs(event.requeued)} it was running went back to the queue`] : []),
    ...(event.failed > 0 ? [`${jobs(event.failed)} it was running failed: ${event.failed === 1 ? "it had" : "they had"} no attempt left`] : []),
  ];
  return `${event.host}: ${parts.join("; ")}${event.reason === undefined ? "" : ` as its agent stopped: ${event.reason}`}`;
}

function jsonEvent(event: RunEvent): object {
  return event.type === "node" && event.error
    ? { ...event, error: { code: event.error.code, message: event.error.message } }
    : event;
}
