/**
 * The result files agents sent with their `jobFinished` messages, kept for the `processAll` that
 * yields those jobs, so that it need not read them back, including jobs that finished before it
 * began to listen (a started cluster runs jobs while its caller is still submitting). Bounded by
 * bytes: the oldest go first, and a job whose bytes are gone is read from its file.
 */
export class RecentResultFiles {
  private readonly files = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** Keeps `bytes` as the result file of `jobId`, forgetting the oldest beyond the bound. */
  keep(jobId: string, bytes: Uint8Array): void {
    this.take(jobId);
    this.files.set(jobId, bytes);
    this.bytes += bytes.length;
    for (const [oldest, oldBytes] of this.files) {
      if (this.bytes <= this.maxBytes) break;
      this.files.delete(oldest);
      this.bytes -= oldBytes.length;
    }
  }

  /** The result file of `jobId`, if it is kept; it is not kept after. */
  take(jobId: string): Uint8Array | undefined {
    const bytes = this.files.get(jobId);
    if (bytes === undefined) return undefined;
    this.files.delete(jobId);
    this.bytes -= bytes.length;
    return bytes;
  }
}
