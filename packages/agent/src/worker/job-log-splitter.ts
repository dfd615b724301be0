import { createWriteStream, type WriteStream } from "node:fs";
import type { Readable } from "node:stream";
import { endOfJobMarker } from "./worker-messages.js";

const MARKER_PREFIX = Buffer.from("\u0000malocher:end-of-job:");
const TAIL_CHARS = 4096;

interface CurrentJob {
  jobId: string;
  marker: Buffer;
  path: string;
  file: WriteStream | undefined;
  ended: Promise<void>;
  resolveEnded: () => void;
}

/**
 * Cuts one output stream of a warm worker (stdout or stderr) into per-job log files, at the
 * end-of-job markers the worker writes after each job. A log file is created only when the job
 * wrote something. Output outside any job is passed to `stray`.
 */
export class JobLogSplitter {
  private pending: Buffer = Buffer.alloc(0);
  private tail = "";
  private current: CurrentJob | undefined;
  private readonly stray: (chunk: Buffer) => void;

  constructor(stream: Readable, stray: (chunk: Buffer) => void) {
    this.stray = stray;
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
  }

  /**
   * Starts routing output to `path` for `jobId`. The promise resolves once the job's marker was
   * seen (or the job was abandoned) and its log file is complete on disk.
   */
  begin(jobId: string, path: string): Promise<void> {
    let resolveEnded!: () => void;
    const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
    this.current = { jobId, marker: Buffer.from(endOfJobMarker(jobId)), path, file: undefined, ended, resolveEnded };
    this.tail = "";
    return ended;
  }

  /** Stops routing without a marker (the worker died): closes the log file with what arrived. */
  abandon(): Promise<void> {
    const job = this.current;
    if (job === undefined) return Promise.resolve();
    this.write(this.pending);
    this.pending = Buffer.alloc(0);
    this.finish(job);
    return job.ended;
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
    this.tail = (this.tail + bytes.toString("utf8")).slice(-TAIL_CHARS);
    const job = this.current;
    if (job === undefined) return this.stray(Buffer.from(bytes));
    if (job.file === undefined) {
      job.file = createWriteStream(job.path, { flags: "a" });
      job.file.on("error", (error) => {
        this.stray(Buffer.from(`malocher: cannot write log ${job.path}: ${error.message}\n`));
        job.resolveEnded();
      });
    }
    job.file.write(Buffer.from(bytes));
  }

  private finish(job: CurrentJob): void {
    this.current = undefined;
    if (job.file === undefined) job.resolveEnded();
    else job.file.end(() => job.resolveEnded());
  }
}
