import { open, rename, unlink, writeFile } from "node:fs/promises";
import { cutNote, randomHex } from "@malocher/protocol";

/**
 * One attempt's output to one log stream, as far as the log keeps it: the first `maxBytes` go to
 * the file as they come (so `logs -f` shows them live), and the last `maxBytes` are held here for
 * {@link cutLogToTail} in case the attempt writes more.
 */
export class LogTail {
  private chunks: Buffer[] = [];
  private held = 0;
  /** Bytes the attempt wrote in all. */
  total = 0;

  constructor(readonly maxBytes: number) {}

  /** How many more bytes go to the file as they come. */
  get room(): number {
    return Math.max(0, this.maxBytes - this.total);
  }

  /** Whether the attempt wrote more than `maxBytes`. */
  get overflowed(): boolean {
    return this.total > this.maxBytes;
  }

  add(bytes: Buffer): void {
    this.total += bytes.length;
    this.chunks.push(bytes);
    this.held += bytes.length;
    while (this.chunks.length > 1 && this.held - this.chunks[0]!.length >= this.maxBytes) this.held -= this.chunks.shift()!.length;
  }

  /** The last `maxBytes` bytes. */
  bytes(): Buffer {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.maxBytes));
  }
}

/**
 * Replaces the attempt's part of the log (the first `maxBytes` it wrote, after what earlier
 * attempts left) by the cut note and the attempt's last `maxBytes`. The new log is written next
 * to the old one and renamed over it, so a reader sees the old log or the new one, whole.
 */
export async function cutLogToTail(path: string, tail: LogTail): Promise<void> {
  const old = await open(path, "r");
  let earlier: Buffer;
  try {
    const { size } = await old.stat();
    earlier = Buffer.alloc(Math.max(0, size - Math.min(tail.maxBytes, tail.total)));
    await old.read(earlier, 0, earlier.length, 0);
  } finally {
    await old.close();
  }
  const kept = tail.bytes();
  const next = `${path}.${process.pid}-${randomHex(4)}.cut`;
  try {
    await writeFile(next, Buffer.concat([earlier, Buffer.from(cutNote(tail.total - kept.length, tail.maxBytes)), kept]));
    await rename(next, path);
  } catch (error) {
    await unlink(next).catch(() => {});
    throw error;
  }
}
