import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { Packr } from "msgpackr";
import { MalocherError } from "../packages/protocol/src/malocher-error.js";
import { checkAndEncodeValue, decodeValue, decodeValueWithClasses, encodeValue } from "../packages/protocol/src/value-codec.js";
import type { LoadClass, LocateClass } from "../packages/protocol/src/class-ref.js";
import { unloadedClassOf } from "../packages/protocol/src/class-revival.js";
import { MAX_VALUE_DEPTH, findUnserializable } from "../packages/protocol/src/find-unserializable.js";

function roundTrip(value: unknown): unknown {
  return decodeValue(encodeValue(value));
}

/** The value is accepted by the walker and arrives deepStrictEqual (prototypes included). */
function assertRoundTrips(value: unknown): unknown {
  assert.equal(findUnserializable(value, "value"), undefined);
  const decoded = roundTrip(value);
  assert.deepStrictEqual(decoded, value);
  return decoded;
}

function nullProto(entries: Record<string, unknown>): Record<string, unknown> {
  return Object.assign(Object.create(null) as Record<string, unknown>, entries);
}

const MB = 1024 * 1024;

describe("encodeValue/decodeValue round trips", () => {
  it("keeps numbers as numbers, including NaN, infinities and large safe integers", () => {
    const numbers = [
      0, 1, -1, 0.1, -2.5, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1,
      2 ** 32 - 1, 2 ** 32, 2 ** 40, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53, 2 ** 64, 1e300,
      Number.MAX_VALUE, Number.MIN_VALUE, Number.EPSILON, NaN, Infinity, -Infinity,
    ];
    const decoded = assertRoundTrips(numbers) as unknown[];
    for (const n of decoded) assert.equal(typeof n, "number");
    assert.equal(roundTrip(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  });

  it("keeps bigints as bigints, small and huge, positive and negative", () => {
    const bigints = [
      0n, 1n, -1n, 5n, -5n, 2n ** 31n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, 2n ** 64n - 1n,
      2n ** 64n, -(2n ** 63n) - 1n, -(2n ** 64n), 2n ** 1000n + 12345n, -(2n ** 4096n) + 7n, 3n ** 100_000n,
    ];
    const decoded = assertRoundTrips(bigints) as unknown[];
    for (const b of decoded) assert.equal(typeof b, "bigint");
  });

  it("keeps strings with any unicode", () => {
    assertRoundTrips([
      "", "plain", "é", "日本語", "😀👩‍👩‍👧", "\u0000nul", "\uFEFFbom", "\uFFFF\uFFFE", "\u2028\u2029", "a\uDBFF\uDFFFb",
      "x".repeat(70_000), "é😀".repeat(200_000),
    ]);
  });

  it("keeps undefined and null, at the top and inside objects and arrays", () => {
    assertRoundTrips(undefined);
    assertRoundTrips(null);
    assertRoundTrips({ a: undefined, b: null, c: [undefined, null, 1] });
    assertRoundTrips([undefined]);
  });

  it("keeps nested plain objects and odd keys", () => {
    assertRoundTrips({
      a: { b: { c: { d: [1, { e: "f" }] } } },
      "": 1, "a-b": 2, "with space": 3, '"quoted"': 4, "😀": 5, 0: 6, 10: 7,
      constructor: 8, toString: "9", hasOwnProperty: 10, valueOf: null,
    });
    // Many shapes, more than msgpackr's 64 record slots, and an object with more than 65535 keys.
    assertRoundTrips(Array.from({ length: 300 }, (_, i) => ({ [`k${i}`]: i, [`j${i}`]: { [`z${i}`]: [i] } })));
    assertRoundTrips(Object.fromEntries(Array.from({ length: 70_000 }, (_, i) => [`key${i}`, i])));
  });

  it("keeps null-prototype objects", () => {
    const inner = nullProto({ b: [1, 2] });
    const value = nullProto({ a: 1, inner, list: [nullProto({})], map: new Map([["k", nullProto({ x: 1 })]]) });
    const decoded = assertRoundTrips(value) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(decoded), null);
    assert.equal(Object.getPrototypeOf(decoded.inner), null);
    assert.equal(Object.getPrototypeOf(roundTrip(nullProto({}))), null);
  });

  it("keeps Dates, including far ones and invalid ones", () => {
    assertRoundTrips([
      new Date(0), new Date(1_234_567_890_123), new Date(-1_234_567_890_123), new Date(1_700_000_000_000),
      new Date(8.64e15), new Date(-8.64e15), new Date(2 ** 34 * 1000 + 1),
    ]);
    const invalid = roundTrip(new Date(NaN));
    assert.ok(invalid instanceof Date);
    assert.ok(Number.isNaN(invalid.getTime())); // deepStrictEqual(invalidDate, invalidDate) fails in Node 20
  });

  it("keeps Maps, Sets and RegExps", () => {
    assertRoundTrips(
      new Map<unknown, unknown>([
        [1, "a"], ["b", { c: 2 }], [{ k: 1 }, 3], [[1, 2], "array key"], [undefined, null], [NaN, 1], [5n, "bigint key"],
        ["nested", new Map([["deeper", new Set([1, "x"])]])],
      ]),
    );
    assertRoundTrips(new Set<unknown>([1, "a", { x: 1 }, NaN, undefined, null, 2n, [1]]));
    assertRoundTrips(new Map(Array.from({ length: 70_000 }, (_, i) => [`k${i}`, i])));
    assertRoundTrips([/a\sb/giu, /x/dmsy, new RegExp("[\\p{L}--[a-z]]", "v"), /\//, new RegExp("")]);
  });

  it("keeps every kind of typed array", () => {
    assertRoundTrips([
      new Int8Array([-128, 0, 127]), new Uint8Array([0, 1, 255]), new Uint8ClampedArray([0, 255]),
      new Int16Array([-32768, 32767]), new Uint16Array([65535]), new Int32Array([-(2 ** 31), 2 ** 31 - 1]),
      new Uint32Array([2 ** 32 - 1]), new Float32Array([1.1, -0, NaN, Infinity]), new Float64Array([1.5, -0, NaN, -Infinity]),
      new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]), new BigUint64Array([2n ** 64n - 1n]),
      new Float64Array(0), new Uint8Array(0),
    ]);
  });

  it("sends only the bytes a view covers, and the view arrives standalone", () => {
    const backing = new ArrayBuffer(64);
    new Uint8Array(backing).forEach((_, i, bytes) => (bytes[i] = i * 3));
    const views = [
      new Float64Array(backing, 8, 3), new Int16Array(backing, 2, 5), new Uint8Array(backing, 3, 5),
      new BigInt64Array(backing, 16, 2), new Float32Array(backing, 4, 1), new DataView(backing, 5, 7),
    ];
    const decoded = assertRoundTrips(views) as ArrayBufferView[];
    decoded.forEach((view, i) => {
      assert.equal(view.byteOffset, 0);
      assert.equal(view.buffer.byteLength, views[i]?.byteLength);
    });
  });

  it("keeps ArrayBuffers, DataViews and Buffers (a Buffer arrives as a Buffer of its own)", () => {
    const buffer = new ArrayBuffer(16);
    new Uint8Array(buffer).set([1, 2, 3], 5);
    assertRoundTrips(buffer);
    assertRoundTrips(new DataView(buffer, 4, 8));
    const pooled = Buffer.from("a small Buffer from the pool");
    const decoded = assertRoundTrips({ pooled }) as { pooled: Buffer };
    assert.ok(Buffer.isBuffer(decoded.pooled));
    assert.equal(decoded.pooled.buffer.byteLength, pooled.byteLength);
  });

  it("keeps cycles and shared references", () => {
    const shared = { s: 1 };
    const root: Record<string, unknown> = { a: shared, b: shared, list: [shared] };
    root.self = root;
    const decoded = assertRoundTrips(root) as typeof root;
    assert.equal(decoded.self, decoded);
    assert.equal(decoded.a, decoded.b);
    assert.equal((decoded.list as unknown[])[0], decoded.a);

    const array: unknown[] = [1];
    array.push(array);
    const decodedArray = assertRoundTrips(array) as unknown[];
    assert.equal(decodedArray[1], decodedArray);

    const map = new Map<unknown, unknown>();
    const key = { map };
    map.set("me", map).set(key, "object key pointing back");
    const decodedMap = assertRoundTrips(map) as Map<unknown, unknown>;
    assert.equal(decodedMap.get("me"), decodedMap);
    assert.equal((([...decodedMap.keys()][1]) as typeof key).map, decodedMap);

    const set = new Set<unknown>();
    set.add(set);
    const decodedSet = assertRoundTrips(set) as Set<unknown>;
    assert.ok(decodedSet.has(decodedSet));

    const bytes = new Float64Array([1, 2]);
    const date = new Date(5);
    const sharedNull = nullProto({ n: 1 });
    const decodedShared = assertRoundTrips([bytes, bytes, date, date, sharedNull, { again: sharedNull }]) as unknown[];
    assert.equal(decodedShared[0], decodedShared[1]);
    assert.equal(decodedShared[2], decodedShared[3]);
    assert.equal((decodedShared[5] as { again: unknown }).again, decodedShared[4]);
    assert.equal(Object.getPrototypeOf(decodedShared[4]), null);
  });

  it("keeps getters' values as plain data", () => {
    const value = { get computed() { return 42; } };
    assert.equal(findUnserializable(value, "value"), undefined);
    assert.deepStrictEqual(roundTrip(value), { computed: 42 });
  });

  it("decodes from any view of the bytes and shares no memory with them", () => {
    const encoded = encodeValue({ bytes: new Uint8Array([1, 2, 3]), buffer: Buffer.from([4, 5]) });
    const file = new Uint8Array(encoded.byteLength + 13);
    file.set(encoded, 7);
    const decoded = decodeValue(file.subarray(7, 7 + encoded.byteLength)) as { bytes: Uint8Array; buffer: Buffer };
    assert.deepStrictEqual(decoded, { bytes: new Uint8Array([1, 2, 3]), buffer: Buffer.from([4, 5]) });
    file.fill(0);
    assert.deepStrictEqual([...decoded.bytes, ...decoded.buffer], [1, 2, 3, 4, 5]);
    assert.equal("dataView" in file, false); // msgpackr caches a DataView on its input; not on ours
  });

  it("decodes in a fresh process what this one encoded, and the other way round", () => {
    const shared = nullProto({ shared: true });
    const root: Record<string, unknown> = {
      shapes: Array.from({ length: 100 }, (_, i) => ({ [`k${i}`]: i, nested: { [`n${i}`]: [i, `${i}`] } })),
      nullProto: nullProto({ inner: nullProto({ x: [1, undefined] }) }),
      refs: [shared, shared],
      big: [2n ** 64n, -(2n ** 300n), 7n, Number.MAX_SAFE_INTEGER],
      binary: [new Float64Array(new ArrayBuffer(40), 8, 3).fill(1.5), Buffer.from("buf"), new DataView(new ArrayBuffer(3))],
      misc: [new Date(1_700_000_000_123), /re/gi, new Map<unknown, unknown>([[{ key: 1 }, new Set(["v"])]]), "é😀"],
    };
    root.self = root;
    const codec = new URL("../packages/protocol/src/value-codec.ts", import.meta.url).href;
    const child = `
      import { decodeValue, encodeValue } from ${JSON.stringify(codec)};
      const chunks = [];
      for await (const chunk of process.stdin) chunks.push(chunk);
      process.stdout.write(encodeValue(decodeValue(Buffer.concat(chunks))));`;
    const echoed = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", child], {
      input: encodeValue(root),
    });
    const decoded = decodeValue(echoed) as typeof root;
    assert.deepStrictEqual(decoded, root);
    assert.equal(decoded.self, decoded);
  });

  it("carries 100 MB values: a Float64Array and an object holding a Uint8Array", () => {
    const floats = new Float64Array((100 * MB) / 8);
    for (let i = 0; i < floats.length; i += 4099) floats[i] = i * 0.25 - 1e6;
    floats[floats.length - 1] = -0;
    assert.equal(findUnserializable(floats, "value"), undefined);
    let encoded = encodeValue(floats);
    assert.ok(encoded.byteLength > 100 * MB);
    const decodedFloats = decodeValue(encoded) as Float64Array;
    assert.deepStrictEqual(decodedFloats, floats);
    assert.ok(Object.is(decodedFloats[floats.length - 1], -0));

    const bytes = new Uint8Array(100 * MB);
    for (let i = 0; i < bytes.length; i += 65_537) bytes[i] = i % 251;
    const holder = { name: "weights", bytes, shape: [10, 10 * MB] };
    assert.equal(findUnserializable(holder, "value"), undefined);
    encoded = encodeValue(holder);
    assert.deepStrictEqual(decodeValue(encoded), holder);

    // msgpackr's process-wide write buffer is not kept at 100 MB for the small values that follow.
    const small = encodeValue({ a: 1 });
    assert.ok(small.buffer.byteLength < MB, `a small value pins a ${small.buffer.byteLength}-byte buffer`);
  });

  it("documents what does not round-trip: -0, array holes, shared memory between views", () => {
    assert.ok(Object.is(roundTrip(-0), 0));
    assert.deepStrictEqual(roundTrip([-0]), [0]);
    assert.equal(findUnserializable(-0, "value"), undefined);

    assert.deepStrictEqual(roundTrip([, 1]), [undefined, 1]);
    assert.equal(findUnserializable([, 1], "value"), undefined);

    const backing = new ArrayBuffer(8);
    const [a, b] = roundTrip([new Uint8Array(backing, 0, 4), new Uint8Array(backing, 2, 4)]) as Uint8Array[];
    assert.notEqual(a?.buffer, b?.buffer);
  });
});

describe("encodeValue refuses what msgpackr would silently change", () => {
  class Model {
    weights = [1, 2];
    forward(): number {
      return 1;
    }
  }

  const cases: [string, unknown, RegExp][] = [
    ["a class instance", { model: new Model() }, /an instance of class Model would arrive as a plain object/],
    ["a function", { f: () => 1 }, /a function cannot be sent/],
    ["a symbol", [Symbol("s")], /a symbol cannot be sent/],
    ["an Error", new Map([["e", new TypeError("boom")]]), /an Error \(TypeError\)/],
    ["a URL", { url: new URL("https://example.com/") }, /a URL would not arrive as a URL/],
    ["a typed-array subclass", [new (class Samples extends Float64Array {})(2)], /class Samples \(a Float64Array subclass\)/],
    ["a Map subclass", [new (class Registry extends Map {})()], /class Registry \(a Map subclass\)/],
    ["a boxed number", [Object(3)], /a boxed Number/],
  ];
  for (const [name, value, message] of cases) {
    it(`refuses ${name} with ARG_NOT_SERIALIZABLE`, () => {
      assert.throws(() => encodeValue(value), (error: unknown) => {
        assert.ok(error instanceof MalocherError);
        assert.equal(error.code, "ARG_NOT_SERIALIZABLE");
        assert.match(error.message, message);
        return true;
      });
    });
  }

  it("uses the code it is given for results", () => {
    assert.throws(() => encodeValue(new Model(), "RESULT_NOT_SERIALIZABLE"), { code: "RESULT_NOT_SERIALIZABLE" });
  });

  it("still encodes after refusing", () => {
    assert.throws(() => encodeValue([1, new Model()]));
    assertRoundTrips({ after: [1, new Date(3)] });
  });

  it("does not change how other Packrs in the process encode", () => {
    const other = new Packr({ structuredClone: true });
    assert.deepStrictEqual(other.unpack(other.pack({ m: new Model(), n: nullProto({ x: 1 }) })), {
      m: { weights: [1, 2] },
      n: { x: 1 },
    });
  });
});

describe("decodeValue", () => {
  it("throws a MalocherError with the given code on truncated or trailing bytes", () => {
    const encoded = encodeValue({ a: "some text", b: [1, 2, 3] });
    assert.throws(() => decodeValue(encoded.subarray(0, encoded.byteLength - 2)), { code: "JOB_SPEC_CORRUPT" });
    const withTrailing = new Uint8Array(encoded.byteLength + 1);
    withTrailing.set(encoded);
    assert.throws(() => decodeValue(withTrailing, "PROTOCOL_ERROR"), { code: "PROTOCOL_ERROR" });
    assert.throws(() => decodeValue(new Uint8Array(0)), MalocherError);
  });
});

describe("findUnserializable", () => {
  class Model {
    forward(): void {}
  }

  const refused: [string, unknown, string, string | RegExp][] = [
    ["a function", [0, { model: { forward() {} } }], "args[1].model.forward",
      "a function cannot be sent, only data (a job imports the functions it calls)"],
    ["a class", [() => 1], "args[0]", "a function cannot be sent, only data (a job imports the functions it calls)"],
    ["a class instance", [0, { model: new Model() }], "args[1].model",
      "an instance of class Model would arrive as a plain object without its methods"],
    ["an anonymous class instance", [new (class {})()], "args[0]", /an anonymous class/],
    ["an object with a custom prototype", [Object.create({ inherited: 1 })], "args[0]", /a custom prototype/],
    ["a symbol", [0, 1, [0, 1, 2, Symbol("s")]], "args[2][3]", "a symbol cannot be sent"],
    ["a symbol key", [{ [Symbol("tag")]: 1 }], "args[0][Symbol(tag)]", /a symbol-keyed property would be dropped/],
    ["an Error", [{ error: new Error("boom") }], "args[0].error", /an Error \(Error\) would arrive without its stack, code/],
    ["an Error subclass", [new (class HttpError extends Error {})("x")], "args[0]", /an Error/],
    ["a URL", [new URL("https://example.com/")], "args[0]", /a URL would not arrive as a URL; send url\.href/],
    ["a WeakMap", [new WeakMap()], "args[0]", /a WeakMap cannot be sent/],
    ["a WeakSet", [new WeakSet()], "args[0]", /a WeakSet cannot be sent/],
    ["a Promise", [Promise.resolve(1)], "args[0]", /a Promise cannot be sent; await it/],
    ["a Node stream", [Readable.from([])], "args[0]", /a stream cannot be sent/],
    ["a web stream", [new ReadableStream()], "args[0]", /a stream cannot be sent/],
    ["a boxed string", [new String("s")], "args[0]", /a boxed String/],
    ["a SharedArrayBuffer", [new SharedArrayBuffer(8)], "args[0]", /a SharedArrayBuffer would arrive as an empty object/],
    ["a typed-array subclass", [new (class Samples extends Float32Array {})(1)], "args[0]",
      /class Samples \(a Float32Array subclass\) would not arrive as one; send a plain Float32Array/],
    ["an Array subclass", [new (class Stack extends Array {})()], "args[0]", /class Stack \(an Array subclass\) would not arrive as one; send a plain Array/],
    ["a Map value", [new Map([["key", new Model()]])], 'args[0].get("key")', /class Model/],
    ["a Map value under a number key", [new Map([[1, () => 1]])], "args[0].get(1)", /a function/],
    ["a Map value under an object key", [new Map<unknown, unknown>([[{}, 1], [{}, () => 1]])], "args[0].values()[1]", /a function/],
    ["a Map key", [new Map([[Symbol("k"), 1]])], "args[0].keys()[0]", "a symbol cannot be sent"],
    ["a Set member", [new Set([1, 2, new Model()])], "args[0].values()[2]", /class Model/],
    ["an odd key", [{ "odd key": { "a-b": () => 1 } }], 'args[0]["odd key"]["a-b"]', /a function/],
    ["a RegExp with lastIndex", [Object.assign(/x/g, { lastIndex: 3 })], "args[0]", "a RegExp's lastIndex (3) would reset to 0"],
    ["a property on a Date", [Object.assign(new Date(0), { label: "x" })], "args[0]", /own property "label" of a Date would be dropped/],
    ["a property on a Map", [Object.assign(new Map(), { size2: 1 })], "args[0]", /own property "size2" of a Map/],
    ["a property on an array", ["abc".match(/b/)], "args[0].index", /a named property on an Array would be dropped/],
    ["a __proto__ key", [JSON.parse('{"__proto__": {"x": 1}}')], 'args[0]["__proto__"]', /renamed to "__proto_"/],
    ["a lone surrogate", [{ text: "ok \uD800 not ok" }], "args[0].text", /a lone surrogate \(\\uD800 at index 3\)/],
    ["a lone surrogate in a key", [{ ["k\uDC00"]: 1 }], 'args[0]["k\\udc00"]', /its key: a string with a lone surrogate/],
    ["a getter that throws", [{ get bad() { throw new Error("nope"); } }], "args[0].bad", /reading it threw \(nope\)/],
  ];
  for (const [name, value, path, reason] of refused) {
    it(`reports ${name}`, () => {
      const found = findUnserializable(value, "args");
      assert.ok(found, "nothing reported");
      assert.equal(found.path, path);
      if (typeof reason === "string") assert.equal(found.reason, reason);
      else assert.match(found.reason, reason);
    });
  }

  it("reports a null-prototype object that refers to itself (it would lose its prototype)", () => {
    const node = nullProto({});
    node.children = [node];
    const found = findUnserializable({ tree: node }, "result");
    assert.equal(found?.path, "result.tree.children[0]");
    assert.match(found?.reason ?? "", /null-prototype object that contains a reference to itself/);
    // What the walker warns about: msgpackr rebuilds the cycle from a plain placeholder.
    const decodedNode = roundTrip(node) as { children: unknown[] };
    assert.equal(decodedNode.children[0], decodedNode);
    assert.equal(Object.getPrototypeOf(decodedNode), Object.prototype);
    // Shared, not cyclic, is fine, and so is a plain object cycling through it.
    const plain: Record<string, unknown> = { inner: nullProto({}) };
    (plain.inner as Record<string, unknown>).back = plain;
    assert.equal(findUnserializable(plain, "r"), undefined);
    const decoded = roundTrip(plain) as { inner: { back: unknown } };
    assert.equal(decoded.inner.back, decoded);
    assert.equal(Object.getPrototypeOf(decoded.inner), null);
  });

  it(`refuses nesting deeper than ${MAX_VALUE_DEPTH} levels, and what it accepts encodes`, () => {
    // Sets are msgpackr's deepest recursion per level.
    let deepest: unknown = 1;
    for (let i = 0; i < MAX_VALUE_DEPTH; i++) deepest = new Set([deepest]);
    assert.equal(findUnserializable([deepest], "args"), undefined);
    assert.deepStrictEqual(roundTrip([deepest]), [deepest]);
    let tooDeep: unknown = 1;
    for (let i = 0; i <= MAX_VALUE_DEPTH + 1; i++) tooDeep = { next: tooDeep };
    const found = findUnserializable(tooDeep, "list");
    assert.match(found?.reason ?? "", /nested more than 500 levels deep/);
    assert.ok(found?.path.startsWith("list.next.next"));
  });

  it("handles cycles and shared references without reporting them", () => {
    const a: Record<string, unknown> = {};
    const b = { a };
    a.b = b;
    a.self = a;
    const list: unknown[] = [a, b];
    list.push(list);
    assert.equal(findUnserializable([a, b, list, new Map([[a, b]]), new Set([list])], "args"), undefined);
  });

  it("accepts everything the codec carries", () => {
    const backing = new ArrayBuffer(32);
    assert.equal(
      findUnserializable(
        [
          1, -0, NaN, 2n ** 200n, "é😀", true, null, undefined, new Date(), new Date(NaN), /x/g, new Map([[{}, new Set([1])]]),
          nullProto({ a: 1 }), new Uint8Array(backing, 4, 4), new DataView(backing), backing, Buffer.from("x"),
          new BigInt64Array(2), Object.freeze({ frozen: [1] }), [, 1],
        ],
        "args",
      ),
      undefined,
    );
  });

  it("accepts large values: 10M numbers, 250 MB of binary data, 200k objects", () => {
    // Its speed is not asserted here (machines are noisy): typed arrays are not walked element by
    // element, and arrays of numbers are skipped with a builtin (see find-unserializable.ts).
    const numbers = Array.from({ length: 10_000_000 }, (_, i) => i * 0.5);
    assert.equal(findUnserializable({ numbers }, "args"), undefined);
    const big = { floats: new Float64Array((200 * MB) / 8), bytes: Buffer.alloc(50 * MB) };
    assert.equal(findUnserializable(big, "args"), undefined);
    const objects = Array.from({ length: 200_000 }, (_, i) => ({ id: i, name: `n${i}`, tags: ["a", "b"] }));
    assert.equal(findUnserializable(objects, "args"), undefined);
    objects[199_999]!.tags.push(Symbol("late") as unknown as string);
    assert.equal(findUnserializable(objects, "args")?.path, "args[199999].tags[2]");
  });
});

describe("class instances (with a class locator)", () => {
  class Point {
    constructor(
      public x: number,
      public y: number,
    ) {}
    norm(): number {
      return Math.hypot(this.x, this.y);
    }
  }
  class Wrapped {
    constructor(readonly inner: unknown) {}
    toMalocher(): unknown {
      return { inner: this.inner };
    }
    static fromMalocher(data: { inner: unknown }): Wrapped {
      return new Wrapped(data.inner);
    }
  }
  const ref = (name: string) => ({ module: "file:///classes.ts", export: name, name });
  const table = new Map<Function, string>([[Point, "Point"], [Wrapped, "Wrapped"]]);
  const locate: LocateClass = (instance) => {
    const ctor = (Object.getPrototypeOf(instance) as { constructor: Function }).constructor;
    const name = table.get(ctor);
    return name === undefined ? { refused: "not exported here" } : { ref: ref(name), constructor: ctor };
  };
  const load: LoadClass = async (r) => [...table].find(([, name]) => name === r.export)![0];
  const encode = (value: unknown) => checkAndEncodeValue(value, "args", "ARG_NOT_SERIALIZABLE", locate);

  it("a value without instances encodes exactly as without a locator", () => {
    const value = { a: [1, 2, new Map([["k", new Date(0)]])] };
    assert.deepEqual(encode(value), encodeValue(value));
  });

  it("instances in Sets, Map keys and custom data are rebuilt innermost first, and identity holds", async () => {
    const p = new Point(3, 4);
    const w = new Wrapped(p);
    const back = (await decodeValueWithClasses(encode({ set: new Set([p]), map: new Map([[p, w]]), w }), "JOB_SPEC_CORRUPT", load, "placeholder")) as {
      set: Set<Point>;
      map: Map<Point, Wrapped>;
      w: Wrapped;
    };
    const [point] = back.set;
    assert.ok(point instanceof Point && point.norm() === 5);
    assert.equal([...back.map.keys()][0], point);
    assert.ok(back.w instanceof Wrapped);
    assert.equal(back.map.get(point), back.w);
    assert.equal(back.w.inner, point, "fromMalocher got the rebuilt Point");
  });

  it("built-in errors and URLs cross; a cycle through a custom-encoded instance is refused", () => {
    const error = new RangeError("too far", { cause: new URL("https://example.org/x") });
    const back = decodeValue(encode(error)) as RangeError;
    assert.ok(back instanceof RangeError);
    assert.equal(back.message, "too far");
    assert.ok(back.cause instanceof URL && back.cause.href === "https://example.org/x");
    assert.ok(!Object.keys(back).includes("message"), "message stays non-enumerable");
    const loop: { self?: Wrapped } = {};
    loop.self = new Wrapped(loop);
    const loopBack = decodeValue(encode(loop)) as typeof loop;
    assert.equal((loopBack.self as unknown as { data: { inner: unknown } }).data.inner, loopBack, "a cycle through other objects is fine");
    const selfish = new Wrapped(undefined);
    Object.assign(selfish, { inner: selfish });
    assert.throws(() => encode([selfish]), /reachable from its own toMalocher\(\) data/);
  });

  it("without the classes, instances become placeholders named after their class; a failing load can fail the decoding", async () => {
    const bytes = encode([new Point(1, 2)]);
    const [shown] = decodeValue(bytes) as [object];
    assert.equal(shown.constructor.name, "Point");
    assert.deepEqual({ ...shown }, { x: 1, y: 2 });
    assert.deepEqual(unloadedClassOf(shown), ref("Point"));
    const refuse: LoadClass = async () => {
      throw new Error("no such module");
    };
    await assert.rejects(decodeValueWithClasses(bytes, "JOB_SPEC_CORRUPT", refuse, "JOB_IMPORT_FAILED"), {
      code: "JOB_IMPORT_FAILED",
      message: /class Point \(file:\/\/\/classes\.ts#Point\) cannot be loaded here: no such module/,
    });
  });

  it("a malformed class envelope is a decoding error with the caller's code", () => {
    // msgpackr writes an extension whose write() returns a value as fixext1 (type, 0) + that value.
    const envelope = Buffer.from([0xd4, 0x43, 0x00, 0x01]); // the class extension around `1`
    assert.throws(() => decodeValue(envelope, "SHARED_DIR_FORMAT"), { code: "SHARED_DIR_FORMAT", message: /malformed class envelope/ });
  });
});
