import { Packr } from "msgpackr";

/**
 * The codec for Malocher's own records (job specs, results, leases, wire messages): plain
 * msgpack maps with string keys, binary fields as Uint8Array. User data never goes through this
 * packer directly; it is encoded by the value codec and embedded as bytes.
 */
const recordPackr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** Encodes one record. */
export function packRecord(record: object): Uint8Array {
  return recordPackr.pack(record);
}

/** Decodes one record; throws on bytes that are not exactly one msgpack map. */
export function unpackRecord(bytes: Uint8Array): Record<string, unknown> {
  const value: unknown = recordPackr.unpack(bytes);
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw new TypeError(`expected a map, got ${describeType(value)}`);
  }
  return value as Record<string, unknown>;
}

/** A short type description for validation messages. */
export function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return "bytes";
  return typeof value;
}
