import { MalocherError } from "./malocher-error.js";

/**
 * Length-prefixed framing for a byte stream (the agent's stdin/stdout when port forwarding is
 * refused): each frame is a 4-byte big-endian length, then that many bytes (one encoded message).
 * Pure: no I/O, just bytes in and frames out.
 */

/** The largest frame either side accepts (as the WebSocket server's `maxPayload`). */
export const MAX_FRAME_BYTES = 1 << 20;
const HEADER_BYTES = 4;

/** Prefixes one frame with its length. */
export function encodeFrame(payload: Uint8Array): Buffer {
  if (payload.length === 0 || payload.length > MAX_FRAME_BYTES) {
    throw new MalocherError("PROTOCOL_ERROR", `A frame must hold 1 to ${MAX_FRAME_BYTES} bytes, not ${payload.length}.`);
  }
  const frame = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.set(payload, HEADER_BYTES);
  return frame;
}

/**
 * Reassembles frames from chunks as they arrive (a frame may span chunks, a chunk may hold many
 * frames). A length of 0 or above {@link MAX_FRAME_BYTES} throws `PROTOCOL_ERROR` and the
 * decoder stays failed: after garbage there is no way to find the next frame.
 */
export class FrameDecoder {
  private buffered: Buffer = Buffer.alloc(0);
  private failure: MalocherError | undefined;

  /** Adds a chunk; returns the frames it completed, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failure !== undefined) throw this.failure;
    this.buffered = this.buffered.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffered, chunk]);
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (this.buffered.length - offset >= HEADER_BYTES) {
      const length = this.buffered.readUInt32BE(offset);
      if (length === 0 || length > MAX_FRAME_BYTES) {
        this.buffered = Buffer.alloc(0);
        this.failure = new MalocherError(
          "PROTOCOL_ERROR",
          `Malformed frame stream: a frame of ${length} bytes (allowed: 1 to ${MAX_FRAME_BYTES}); is something else writing to this stream?`,
        );
        throw this.failure;
      }
      if (this.buffered.length - offset - HEADER_BYTES < length) break;
      frames.push(this.buffered.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length));
      offset += HEADER_BYTES + length;
    }
    this.buffered = this.buffered.subarray(offset);
    return frames;
  }

  /** Bytes of an incomplete frame still waiting for the rest. */
  get pendingBytes(): number {
    return this.buffered.length;
  }
}
