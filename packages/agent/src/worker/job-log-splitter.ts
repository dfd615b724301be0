import { close, createWriteStream, write, writev, type WriteStream } from "node:fs";
import { appendLogNote, openLogForAppend } from "@malocher/store";
import type { Readable } from "node:stream";
import { endOfJobMarker } from "./worker-messages.js";
import { LogTail, cutLogToTail } from "./log-tail.js";

/**
 * How a log's write stream opens its file: see `openLogForAppend` (no symlinks; a file of ours,
 * 0600). A log that holds an earlier run's output gets `rerunNote()` first, on a line of its own.
 */
function logFileSystem(rerunNote: () => string) {
  return {
    open: (path: string, _flags: unknown, _mode: unknown, callback: (error: Error | null, fd?: number) => void) =>
      void openLogForAppend(path)
        .then(({ fd, size }) =>
          (size === 0 ? Promise.resolve() : appendLogNote(fd, size, rerunNote())).then(
            () => fd,
            (error: Error) => {
              close(fd, () => {});
              throw error;
            },
          ),
        )
        .then((fd) => callback(null, fd), callback),
    write,
    writev,
    close,
  };
}

/** Closes a log's descriptor (its stream does not: it stays open for a cut). */
function closeLog(file: WriteStream | undefined): void {
  const stream = file as unknown as { fd: number | null } | undefined;
  if (stream !== undefined && typeof stream.fd === "number") {
    const fd = stream.fd;
    stream.fd = null;
    close(fd, () => {});
  }
}

/** The descriptor of a log's stream once it is open (Node's types leave it out). */
function fdOf(file: WriteStream): number | null {
  return (file as unknown as { fd: number | null }).fd;
}

const MARKER_PREFIX = Buffer.from("\u0000malocher:end-of-job:");
const TAIL_CHARS = 4096;

interface JobLog {
  jobId: string;
  marker: Buffer;
  path: string;
  /** Written before this run's output when the log holds an earlier run's (see `rerunNote`). */
  rerunNote: () => string;
  file: WriteStream | undefined;
  /** The last `maxBytes` of this attempt's output, for the log's rewrite if it grows past them. */
  tail: LogTail;
  ended: Promise<void>;
  resolveEnded: () => void;
}

/**
 * Cuts one output stream of a warm worker (stdout or stderr) into per-job log files, at the
 * end-of-job markers the worker writes after each job. A log file is created only when the job
 * wrote something. Output outside any job is passed to `stray`. A job's log holds at most
 * `maxBytes` of each attempt's output: past that, nothing more is written while it runs, and when
 * it ends the attempt's part of the log is replaced by a "[... N bytes cut ...]" note and the last
 * `maxBytes` (so a chatty job cannot fill the shared disk, and its last words are kept).
 */
export class JobLogSplitter {
  private pending: Buffer = Buffer.alloc(0);
  private tail = "";
  private current: JobLog | undefined;
  /** Jobs begun while another's output still streams here (a job lined up on the worker, or one whose predecessor's marker is still in the pipe). */
  private readonly waiting: JobLog[] = [];
  private readonly stray: (chunk: Buffer) => void;

  constructor(stream: Readable, stray: (chunk: Buffer) => void) {
    this.stray = stray;
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
  }

  /**
   * Routes output to `path` for `jobId` once the jobs begun before it have reached their markers
   * (after `rerunNote()`, when the log holds an earlier run's output).
   * The promise resolves once the job's marker was seen (or the job was abandoned or cancelled)
   * and its log file is complete on disk.
   */
  begin(jobId: string, path: string, maxBytes: number, rerunNote: () => string): Promise<void> {
    let resolveEnded!: () => void;
    const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
    const tail = new LogTail(maxBytes);
    const job = { jobId, marker: Buffer.from(endOfJobMarker(jobId)), path, rerunNote, file: undefined, tail, ended, resolveEnded };
    if (this.current === undefined) this.makeCurrent(job);
    else this.waiting.push(job);
    return ended;
  }

  /** Stops routing without a marker (the worker died): closes the logs with what arrived. */
  abandon(): Promise<void> {
    const jobs = [this.current, ...this.waiting.splice(0)].filter((job) => job !== undefined);
    const job = this.current;
    if (job !== undefined) {
      this.write(this.pending);
      this.pending = Buffer.alloc(0);
      this.finish(job);
    }
    for (const waiting of jobs) if (waiting !== job) waiting.resolveEnded();
    return Promise.all(jobs.map((each) => each.ended)).then(() => {});
  }

  /** Forgets a job that never ran on the worker (taken back before it started): it has no output. */
  cancel(jobId: string): void {
    const at = this.waiting.findIndex((job) => job.jobId === jobId);
    if (at >= 0) this.waiting.splice(at, 1)[0]!.resolveEnded();
    else if (this.current?.jobId === jobId) this.finish(this.current);
  }

  private makeCurrent(job: JobLog): void {
    this.current = job;
    this.tail = "";
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    for (;;) {
      const job = this.current;
      const at = job === undefined ? -1 : this.pending.indexOf(job.marker);
      if (job !== undefined && at >= 0) {
        this.write(this.pending.subarray(0, at));
        this.pending = this.pending.subarray(at + job.marker.length);
        this.finish(job);
        continue;
      }
      // Keep a tail that may be the start of a marker split across chunks.
      const keep = this.partialMarkerLength();
      this.write(this.pending.subarray(0, this.pending.length - keep));
      this.pending = this.pending.subarray(this.pending.length - keep);
      return;
    }
  }

  private partialMarkerLength(): number {
    const from = this.pending.lastIndexOf(0);
    if (from < 0) return 0;
    const tail = this.pending.subarray(from);
    const marker = this.current?.marker ?? MARKER_PREFIX;
    return marker.subarray(0, tail.length).equals(tail) && tail.length < marker.length ? tail.length : 0;
  }

  /** The last few KB the current (or last) job wrote here, e.g. to recognize V8's out-of-memory report. */
  get lastOutput(): string {
    return this.tail + this.pending.toString("utf8");
  }

  private write(bytes: Buffer): void {
    if (bytes.length === 0) return;
    // Only the last few KB: decoding all of a chatty job's output took most of the agent's CPU.
    this.tail = (this.tail + bytes.subarray(-TAIL_CHARS).toString("utf8")).slice(-TAIL_CHARS);
    const job = this.current;
    if (job === undefined) return this.stray(Buffer.from(bytes));
    if (job.file === undefined) {
      // Opened without following a symlink, and kept open after the end: a cut reads the log
      // through this descriptor (see openLogForAppend and cutLogToTail).
      job.file = createWriteStream(job.path, { fs: logFileSystem(job.rerunNote), autoClose: false });
      job.file.on("error", (error) => {
        this.stray(Buffer.from(`malocher: cannot write log ${job.path}: ${error.message}\n`));
        closeLog(job.file);
        job.resolveEnded();
      });
    }
    const room = job.tail.room;
    job.tail.add(Buffer.from(bytes));
    if (room > 0) job.file.write(bytes.subarray(0, room));
  }

  private finish(job: JobLog): void {
    this.current = undefined;
    const next = this.waiting.shift();
    if (next !== undefined) this.makeCurrent(next);
    const file = job.file;
    if (file === undefined) return job.resolveEnded();
    file.end(() => {
      const fd = fdOf(file);
      if (!job.tail.overflowed || fd === null) {
        closeLog(file);
        return job.resolveEnded();
      }
      cutLogToTail(fd, job.path, job.tail)
        .catch((error: Error) => this.stray(Buffer.from(`malocher: cannot cut log ${job.path} to its tail: ${error.message}\n`)))
        .finally(() => {
          closeLog(file);
          job.resolveEnded();
        });
    });
  }
}
