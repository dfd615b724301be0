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
import { FUNCTION_REASON, findUnserializable, unsupportedObjectReason, type SeenInstances } from "./find-unserializable.js";
import { BUILTIN_CLASSES, classRefKey, describeClassRef, type ClassRef, type LoadClass, type LocateClass } from "./class-ref.js";
import { ClassEnvelope, SubstitutionRefused, substituteInstances } from "./class-substitution.js";
import { DecodedEnvelope, reviveInstances } from "./class-revival.js";
import { ResultOf } from "./result-ref.js";

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
    if (value instanceof ClassEnvelope || value instanceof ResultOf) return false;
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
 * The msgpackr extension type of a value with class instances (see `class-substitution.ts`);
 * 0x43 ("C"). Only ever the outermost value: `[classes, instances, customs, value]`.
 */
export const CLASS_ENVELOPE_EXTENSION_TYPE = 0x43;

addExtension({
  Class: ClassEnvelope,
  type: CLASS_ENVELOPE_EXTENSION_TYPE,
  write: (envelope: ClassEnvelope) => [envelope.classes, envelope.instances, envelope.customs, envelope.value],
  read: (data: unknown) => readEnvelope(data),
});

function readEnvelope(data: unknown): DecodedEnvelope {
  if (!Array.isArray(data) || data.length !== 4) throw new TypeError("malformed class envelope");
  const [classes, instances, customs, value] = data as unknown[];
  if (!Array.isArray(classes) || !Array.isArray(instances) || !Array.isArray(customs)) throw new TypeError("malformed class envelope");
  if (instances.length % 2 !== 0 || customs.length % 2 !== 0) throw new TypeError("malformed class envelope");
  return new DecodedEnvelope(classes.map(readClassRef), instances, customs, value);
}

function readClassRef(record: unknown): ClassRef {
  const ref = record as Partial<Record<string, unknown>> | null;
  if (typeof ref?.["builtin"] === "string" && Object.hasOwn(BUILTIN_CLASSES, ref["builtin"])) {
    return { builtin: ref["builtin"] as keyof typeof BUILTIN_CLASSES };
  }
  const { module, export: name, name: className } = ref ?? {};
  if (typeof module !== "string" || typeof name !== "string" || typeof className !== "string") throw new TypeError("malformed class reference");
  return { module, export: name, name: className };
}

/**
 * The msgpackr extension type of a `resultOf(jobId)` reference (see `result-ref.ts`); 0x52 ("R").
 * Written as the job id; `encodeValue` collects the ids it wrote into `EncodeOptions.resultRefs`.
 */
export const RESULT_OF_EXTENSION_TYPE = 0x52;

/** Where the running `encodeValue` collects the job ids of the references it writes. */
let resultRefSink: Set<string> | undefined;

addExtension({
  Class: ResultOf,
  type: RESULT_OF_EXTENSION_TYPE,
  write: (ref: ResultOf) => {
    resultRefSink?.add(ref.jobId);
    return ref.jobId;
  },
  read: (jobId: unknown) => {
    if (typeof jobId !== "string") throw new TypeError("malformed result reference");
    return new ResultOf(jobId);
  },
});

/** How {@link encodeValue} treats class instances. */
export interface EncodeOptions {
  /** Finds instances' classes; without it every class instance is refused. */
  classes?: LocateClass;
  /** What `findUnserializable` already found out about the value's instances. */
  seen?: SeenInstances;
  /** Filled in while encoding: the job ids of the `resultOf` references in the value. */
  resultRefs?: Set<string>;
}

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
  errorCode: SerializationErrorCode = "ARG_NOT_SERIALIZABLE",
  options: EncodeOptions = {},
): Uint8Array {
  let bytes: Uint8Array;
  encoding++;
  const outerSink = resultRefSink;
  resultRefSink = options.resultRefs;
  try {
    const envelope = options.classes === undefined ? undefined : substituteInstances(value, options.classes, options.seen);
    bytes = packr.pack(envelope ?? value);
  } catch (error) {
    throw new MalocherError(errorCode, `the value cannot be sent: ${encodeFailure(error)}`, { cause: error });
  } finally {
    encoding--;
    resultRefSink = outerSink;
  }
  const buffer = bytes.buffer;
  if (buffer.byteLength > LARGE_BUFFER_BYTES) {
    packr.useBuffer(Buffer.allocUnsafeSlow(8192));
    // A small result in a large buffer (grown by an earlier value) is copied so the buffer can go.
    if (bytes.byteLength < buffer.byteLength / 2) bytes = Uint8Array.prototype.slice.call(bytes);
  }
  return bytes;
}

type SerializationErrorCode = "ARG_NOT_SERIALIZABLE" | "RESULT_NOT_SERIALIZABLE";

/**
 * {@link findUnserializable} and {@link encodeValue} in one: the error names the path to what
 * cannot be sent, e.g. `args[0].model`, `toMalocher()` runs once per instance, and a value
 * without class instances is not copied.
 *
 * @example
 * ```ts
 * const bytes = checkAndEncodeValue([model, rows], "args", "ARG_NOT_SERIALIZABLE", locateClass);
 * ```
 */
export function checkAndEncodeValue(
  value: unknown,
  rootPath: string,
  errorCode: SerializationErrorCode,
  classes?: LocateClass,
  resultRefs?: Set<string>,
): Uint8Array {
  const seen: SeenInstances = new Map();
  const problem = findUnserializable(value, rootPath, classes === undefined ? {} : { classes, seen });
  if (problem !== undefined) {
    const message = errorCode === "ARG_NOT_SERIALIZABLE"
      ? `Cannot send ${problem.path} to the job: ${problem.reason}.`
      : `The job returned a value that cannot be sent back, at ${problem.path}: ${problem.reason}.`;
    throw new MalocherError(errorCode, message);
  }
  // Only a value with class instances needs the copy that replaces them.
  const options: EncodeOptions = classes === undefined || seen.size === 0 ? {} : { classes, seen };
  if (resultRefs !== undefined) options.resultRefs = resultRefs;
  return encodeValue(value, errorCode, options);
}

function encodeFailure(error: unknown): string {
  if (error instanceof Refusal || error instanceof SubstitutionRefused) return error.message;
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
 * fits where the bytes came from) if the bytes are not one complete encoded value. Class instances
 * arrive as placeholders of their class's name (it never imports anything; see
 * {@link decodeValueWithClasses}).
 *
 * @example
 * ```ts
 * const result = decodeValue(await readFile(resultPath), "PROTOCOL_ERROR");
 * ```
 */
export function decodeValue(bytes: Uint8Array, errorCode: ErrorCode = "JOB_SPEC_CORRUPT"): unknown {
  const decoded = unpack(bytes, errorCode);
  return decoded instanceof DecodedEnvelope ? revive(decoded, new Map(), bytes, errorCode) : decoded;
}

/**
 * Decodes what {@link encodeValue} wrote, loading the classes of its instances with `load` first.
 * A class that cannot be loaded fails the decoding with the code `unloadable` gives (for a job's
 * arguments) or, with `unloadable: "placeholder"`, leaves its instances as placeholders of the
 * same name (for showing results; see `unloadedClassOf`).
 *
 * @example
 * ```ts
 * const args = await decodeValueWithClasses(spec.args, "JOB_SPEC_CORRUPT", importClass, "JOB_IMPORT_FAILED");
 * ```
 */
export async function decodeValueWithClasses(
  bytes: Uint8Array,
  errorCode: ErrorCode,
  load: LoadClass,
  unloadable: ErrorCode | "placeholder",
): Promise<unknown> {
  const decoded = unpack(bytes, errorCode);
  if (!(decoded instanceof DecodedEnvelope)) return decoded;
  const loaded = new Map<string, Function>();
  await Promise.all(
    decoded.moduleClasses().map(async (ref) => {
      try {
        loaded.set(classRefKey(ref), await load(ref));
      } catch (error) {
        if (unloadable !== "placeholder") {
          const message = `class ${describeClassRef(ref)} cannot be loaded here: ${(error as Error).message}`;
          throw new MalocherError(unloadable, message, { cause: error });
        }
      }
    }),
  );
  return revive(decoded, loaded, bytes, errorCode);
}

function unpack(bytes: Uint8Array, errorCode: ErrorCode): unknown {
  // A Buffer view of the same memory: msgpackr caches a DataView on its input (so the caller's
  // object is left alone), and with a Buffer input binary data arrives as a Buffer, which is what
  // msgpackr writes Buffers as; Uint8Arrays have their own typed-array extension.
  const source = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return packr.unpack(source);
  } catch (error) {
    throw decodeFailure(error, bytes, errorCode);
  }
}

function revive(envelope: DecodedEnvelope, loaded: ReadonlyMap<string, Function>, bytes: Uint8Array, errorCode: ErrorCode): unknown {
  try {
    return reviveInstances(envelope, loaded);
  } catch (error) {
    throw decodeFailure(error, bytes, errorCode);
  }
}

function decodeFailure(error: unknown, bytes: Uint8Array, errorCode: ErrorCode): MalocherError {
  const message = error instanceof Error ? error.message : String(error);
  return new MalocherError(errorCode, `could not decode a value of ${bytes.byteLength} bytes: ${message}`, { cause: error });
}
