/**
 * The codec for user data: job arguments and results, stored as msgpackr bytes in job files and
 * decoded in another process, often on another machine.
 *
 * What arrives exactly as it was sent (checked by `test/value-codec.test.ts`): numbers (NaN,
 * ±Infinity, integers beyond 2^32 still as `number`), bigints of any size and sign (as `bigint`),
 * strings, booleans, null, undefined (also inside objects and arrays), plain and null-prototype
 * objects, arrays, Map, Set, Date (also invalid ones), RegExp, ArrayBuffer, DataView, the eleven
 * typed arrays, Node Buffers, cycles and shared references (identity is kept), and values of
 * hundreds of MB. What does not, and why, is listed in `find-unserializable.ts`; the short version:
 * `-0` arrives as `0`, array holes as `undefined`, and views no longer share memory.
 */
import { FLOAT32_OPTIONS, Packr, addExtension } from "msgpackr";
import { MalocherError, type ErrorCode } from "./malocher-error.js";
import { FUNCTION_REASON, unsupportedObjectReason } from "./find-unserializable.js";

/** Why the current `encodeValue` refuses the value; carried out of msgpackr by throwing. */
class Refusal extends Error {}

/**
 * Every option that changes what arrives is spelled out, also where it equals msgpackr 2.1.4's
 * default, so an upgrade that changes a default cannot change our data.
 */
const packr = new Packr({
  // Object identity: cycles and shared references arrive as cycles and shared references.
  structuredClone: true,
  // Extensions for Set, RegExp, typed arrays, ArrayBuffer, DataView and bigints beyond 64 bits.
  moreTypes: true,
  // Records are what keeps `{}` and `Map` apart: without them both become msgpack maps and a Map
  // would arrive as a plain object (mapsAsObjects) or every object as a Map.
  useRecords: true,
  mapsAsObjects: false,
  // No shared structures: every encoding must decode on its own, anywhere, later.
  sequential: false,
  // Bigints: 64-bit ones are written as int64/uint64 and must come back as bigint, not as a
  // (rounded) number or a string; larger ones use msgpackr's bigint extension instead of
  // becoming a float or a string. Numbers are never written as int64 (msgpackr writes integers
  // beyond 32 bits as float64), so 2**53 - 1 stays a number.
  int64AsType: "bigint",
  useBigIntExtension: true,
  largeBigIntToFloat: false,
  largeBigIntToString: false,
  // Full precision: doubles stay doubles, Dates keep their milliseconds, undefined stays undefined.
  useFloat32: FLOAT32_OPTIONS.NEVER,
  useTimestamp32: false,
  encodeUndefinedAsNil: false,
  // Never let an object's toJSON() stand in for the object (URL and user classes have one).
  useToJSON: false,
  // Decoded binary data gets its own memory instead of pinning the (possibly huge) input bytes.
  copyBuffers: true,
  // msgpackr would write a function as undefined; refuse instead (NullPrototypeOrRefused below
  // already does, this is the fallback should another extension be tried first).
  writeFunction: () => {
    throw new Refusal(FUNCTION_REASON);
  },
});

/** How many `encodeValue` calls are running (a getter may encode, so it can be more than one). */
let encoding = 0;

/**
 * The msgpackr extension type that marks a null-prototype object. msgpackr gives types 1-100 to
 * applications; 0x4e ("N") is ours.
 */
export const NULL_PROTOTYPE_EXTENSION_TYPE = 0x4e;

/**
 * msgpackr tries `value instanceof Class` for every registered extension on each object that is
 * not a plain object, array or Map, and extensions are process-wide (they apply to every Packr
 * of this msgpackr copy). This class matches only while `encodeValue` runs, so other msgpackr
 * users in the process are not affected, and during `encodeValue` it
 * - tags null-prototype objects, so they arrive with a null prototype (msgpackr alone gives them
 *   Object.prototype), and
 * - refuses what msgpackr would silently change (class instances, Errors, URLs, typed-array
 *   subclasses…), by the same rules as `findUnserializable`.
 * It is tried before the built-in extensions, because `addExtension` puts new extensions first.
 * The decoding side cannot be scoped the same way: a custom extension with type 0x4e registered
 * on the same msgpackr copy (by user code in the same process) would replace ours.
 */
class NullPrototypeOrRefused {
  static [Symbol.hasInstance](value: unknown): boolean {
    if (encoding === 0 || value === null || (typeof value !== "object" && typeof value !== "function")) return false;
    if (typeof value === "object" && Object.getPrototypeOf(value) === null) return true;
    const reason = unsupportedObjectReason(value);
    if (reason !== undefined) throw new Refusal(reason);
    return false;
  }
}

addExtension({
  Class: NullPrototypeOrRefused,
  type: NULL_PROTOTYPE_EXTENSION_TYPE,
  // Returning the object itself makes msgpackr write it as an ordinary object after the tag.
  write: (object: object) => object,
  // In place, so references to the object (shared or, except cycles through it, nested) stay valid.
  read: (data: unknown) => {
    if (typeof data === "object" && data !== null && Object.getPrototypeOf(data) === Object.prototype) {
      Object.setPrototypeOf(data, null);
    }
    return data;
  },
});

/**
 * msgpackr writes into one process-wide buffer and returns views into it; after a large value
 * that buffer stays large and every later (small) result would be a view pinning it. Past this
 * size we hand msgpackr a fresh small buffer.
 */
const LARGE_BUFFER_BYTES = 8 * 1024 * 1024;

/**
 * Encodes job arguments or a job result. Throws a {@link MalocherError} (by default
 * `ARG_NOT_SERIALIZABLE`) for a value that would not arrive unchanged, as far as that can be
 * seen without walking the value: functions, symbols, class instances, Errors, URLs and other
 * unsupported objects. Call `findUnserializable` first for the full check and a path to the culprit.
 *
 * The result may be a view into a larger buffer (check `byteOffset`); write it out as it is.
 *
 * @example
 * ```ts
 * const bytes = encodeValue([1n, new Map([["k", new Float64Array(3)]])]);
 * const args = decodeValue(bytes); // [1n, Map { "k" => Float64Array(3) }]
 * ```
 */
export function encodeValue(
  value: unknown,
  errorCode: "ARG_NOT_SERIALIZABLE" | "RESULT_NOT_SERIALIZABLE" = "ARG_NOT_SERIALIZABLE",
): Uint8Array {
  let bytes: Uint8Array;
  encoding++;
  try {
    bytes = packr.pack(value);
  } catch (error) {
    throw new MalocherError(errorCode, `the value cannot be sent: ${encodeFailure(error)}`, { cause: error });
  } finally {
    encoding--;
  }
  const buffer = bytes.buffer;
  if (buffer.byteLength > LARGE_BUFFER_BYTES) {
    packr.useBuffer(Buffer.allocUnsafeSlow(8192));
    // A small result in a large buffer (grown by an earlier value) is copied so the buffer can go.
    if (bytes.byteLength < buffer.byteLength / 2) bytes = Uint8Array.prototype.slice.call(bytes);
  }
  return bytes;
}

function encodeFailure(error: unknown): string {
  if (error instanceof Refusal) return error.message;
  if (error instanceof RangeError && /call stack/i.test(error.message)) {
    return "it is nested too deeply for msgpackr, which encodes recursively (flatten it, e.g. a linked list into an array)";
  }
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes("Unknown type: symbol")) return "a symbol cannot be sent";
  return `msgpackr failed: ${message}`;
}

/**
 * Decodes what {@link encodeValue} wrote. The input is not modified and the result shares no
 * memory with it. Throws a {@link MalocherError} (by default `JOB_SPEC_CORRUPT`; pass the code that
 * fits where the bytes came from) if the bytes are not one complete encoded value.
 *
 * @example
 * ```ts
 * const result = decodeValue(await readFile(resultPath), "PROTOCOL_ERROR");
 * ```
 */
export function decodeValue(bytes: Uint8Array, errorCode: ErrorCode = "JOB_SPEC_CORRUPT"): unknown {
  // A Buffer view of the same memory: msgpackr caches a DataView on its input (so the caller's
  // object is left alone), and with a Buffer input binary data arrives as a Buffer, which is what
  // msgpackr writes Buffers as; Uint8Arrays have their own typed-array extension.
  const source = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return packr.unpack(source);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new MalocherError(errorCode, `could not decode a value of ${bytes.byteLength} bytes: ${message}`, { cause: error });
  }
}
