import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  checkHostKey,
  entriesForHost,
  fingerprintSha256,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  readKnownHosts,
  type KnownHostEntry,
} from "../packages/supervisor/src/ssh/known-hosts.js";

interface Key {
  /** "type base64", as it goes into a known_hosts line. */
  text: string;
  type: string;
  blob: Buffer;
  pubPath: string;
}

let dir: string;
const keys: Record<string, Key> = {};

function key(name: string): Key {
  const found = keys[name];
  if (found === undefined) throw new Error(`no key ${name}`);
  return found;
}

function generate(name: string, type: string): void {
  const path = join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", name, "-f", path]);
  const [keyType = "", b64 = ""] = readFileSync(`${path}.pub`, "utf8").split(" ");
  keys[name] = { text: `${keyType} ${b64}`, type: keyType, blob: Buffer.from(b64, "base64"), pubPath: `${path}.pub` };
}

/** Line numbers `ssh-keygen -l -F name -f file` reports; -l makes it parse keys as ssh does. */
function sshKeygenFind(file: string, name: string): number[] {
  const run = spawnSync("ssh-keygen", ["-l", "-F", name, "-f", file], { encoding: "utf8" });
  return [...run.stdout.matchAll(/^# Host .* found: line (\d+)/gm)].map((m) => Number(m[1]));
}

function lines(entries: KnownHostEntry[]): number[] {
  return entries.map((e) => e.line);
}

/** A known_hosts file ssh-keygen -H accepts (no invalid lines). Returns the text. */
function hashableFile(): string {
  return [
    "# Malocher test nodes",
    "",
    `node1 ${key("ed1").text} first`,
    `node1 ${key("rsa1").text}`,
    `node2,node3 ${key("ed2").text}`,
    `[node1]:2222 ${key("ed2").text}`,
    `[node4]:2222 ${key("rsa1").text}`,
    `node5 ${key("rsa1").text}`,
    `*.example.com,!bad.example.com ${key("ed1").text}`,
    `web? ${key("rsa2").text}`,
    `@revoked * ${key("edRevoked").text}`,
    `@revoked node2 ${key("ed1").text}`,
    `@cert-authority *.ca.test ${key("ed2").text}`,
    `node8 ${key("edRevoked").text}`,
    `Mixed.CASE.test ${key("ed1").text}`,
    "",
  ].join("\n");
}

/** Lines ssh skips, next to a few valid ones. */
function garbageFile(): string {
  const ed1 = key("ed1");
  const b64 = ed1.text.split(" ")[1] ?? "";
  return [
    "garbage", // 1
    "node6", // 2
    "node6 ssh-ed25519", // 3
    "node6 ssh-ed25519 !!!notbase64", // 4
    `node6 ssh-ed25519 ${key("rsa1").text.split(" ")[1] ?? ""}`, // 5: type differs from blob
    `node6 ssh-ed25519 ${b64.slice(0, -4)}`, // 6: truncated blob
    `@bogus node6 ${ed1.text}`, // 7
    `@revoked @revoked node6 ${ed1.text}`, // 8: two markers
    `@revoked\tnode6 ${ed1.text}`, // 9: marker ends at the first space, so it is "@revoked\tnode6"
    `|1|notbase64|AAAA node6 ${ed1.text}`, // 10: bad salt
    `|2|${Buffer.alloc(20).toString("base64")}|AAAA ${ed1.text}`, // 11: unknown hash magic
    `node7 ${ed1.text}\r`, // 12: CRLF line is fine
    `@revoked\tnode9\t${ed1.text.replace(" ", "\t")}`, // 13: tab-only marker line is fine
    `  \t# comment after blanks`, // 14
    `node10 ${ed1.text} # a comment with ${key("rsa1").text}`, // 15
    "",
  ].join("\n");
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "malocher-known-hosts-"));
  generate("ed1", "ed25519");
  generate("ed2", "ed25519");
  generate("edRevoked", "ed25519");
  generate("rsa1", "rsa");
  generate("rsa2", "rsa");
  generate("ecdsa1", "ecdsa");
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("fingerprintSha256", () => {
  it("prints what ssh-keygen -l prints", () => {
    for (const name of ["ed1", "rsa1", "ecdsa1"]) {
      const printed = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", key(name).pubPath], { encoding: "utf8" });
      assert.equal(fingerprintSha256(key(name).blob), printed.split(" ")[1], name);
    }
  });
});

describe("parseKnownHosts", () => {
  it("reads markers, patterns, key types and line numbers", () => {
    const entries = parseKnownHosts(hashableFile());
    assert.deepEqual(lines(entries), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    const [first, , second] = entries;
    assert.equal(first?.keyType, "ssh-ed25519");
    assert.ok(first?.keyBlob.equals(key("ed1").blob));
    assert.equal(first?.marker, undefined);
    assert.deepEqual(second?.hosts, {
      kind: "patterns",
      patterns: [
        { pattern: "node2", negated: false },
        { pattern: "node3", negated: false },
      ],
    });
    const negation = entries.find((e) => e.line === 9);
    assert.deepEqual(negation?.hosts, {
      kind: "patterns",
      patterns: [
        { pattern: "*.example.com", negated: false },
        { pattern: "bad.example.com", negated: true },
      ],
    });
    assert.equal(entries.find((e) => e.line === 11)?.marker, "@revoked");
    assert.equal(entries.find((e) => e.line === 13)?.marker, "@cert-authority");
    assert.equal(entries.find((e) => e.line === 4)?.keyType, "ssh-rsa");
  });

  it("skips comments, blank lines and every line ssh rejects", () => {
    const entries = parseKnownHosts(garbageFile());
    assert.deepEqual(lines(entries), [12, 13, 15]);
    assert.ok(entries.every((e) => e.keyBlob.equals(key("ed1").blob)));
    assert.equal(entries[1]?.marker, "@revoked");
  });

  it("skips the same lines as ssh-keygen -F", () => {
    const file = join(dir, "garbage_known_hosts");
    writeFileSync(file, garbageFile());
    const entries = parseKnownHosts(garbageFile());
    for (const host of ["node6", "node7", "node9", "node10"]) {
      assert.deepEqual(lines(entriesForHost(entries, host, 22)), sshKeygenFind(file, host), host);
    }
    assert.deepEqual(sshKeygenFind(file, "node7"), [12]);
  });
});

describe("readKnownHosts", () => {
  it("treats a missing file as empty", async () => {
    assert.deepEqual(await readKnownHosts(join(dir, "does-not-exist")), []);
  });

  it("parses an existing file", async () => {
    const file = join(dir, "read_known_hosts");
    writeFileSync(file, hashableFile());
    assert.deepEqual(await readKnownHosts(file), parseKnownHosts(hashableFile()));
  });
});

describe("knownHostsName", () => {
  it("uses the bare host for port 22 and [host]:port otherwise, lowercased", () => {
    assert.equal(knownHostsName("Node1", 22), "node1");
    assert.equal(knownHostsName("node1", 2222), "[node1]:2222");
    assert.equal(knownHostsName("::1", 2222), "[::1]:2222");
    assert.throws(() => knownHostsName("node1", 70000), RangeError);
  });
});

describe("host patterns", () => {
  it("follow ssh's wildcard, negation and port rules", () => {
    const text = [
      `!neg.test ${key("ed1").text}`, // negation alone matches nothing
      `[node1]:22 ${key("ed1").text}`, // port 22 is looked up as bare "node1", never as this
      `*]:2222 ${key("ed1").text}`, // any host on port 2222
      `?? ${key("ed1").text}`, // any two-character name
      `a,,b ${key("ed1").text}`, // an empty element matches only an empty name
      "",
    ].join("\n");
    const file = join(dir, "patterns_known_hosts");
    writeFileSync(file, text);
    const entries = parseKnownHosts(text);
    const lookups: [string, number, number[]][] = [
      ["neg.test", 22, []],
      ["other.test", 22, []],
      ["node1", 22, []],
      ["ab", 22, [4]],
      ["abc", 2222, [3]],
      ["ab", 2222, [3]],
      ["b", 22, [5]],
    ];
    for (const [host, port, expected] of lookups) {
      const name = knownHostsName(host, port);
      assert.deepEqual(lines(entriesForHost(entries, host, port)), expected, name);
      assert.deepEqual(sshKeygenFind(file, name), expected, `ssh-keygen -F ${name}`);
    }
  });
});

describe("bare-host fallback for other ports", () => {
  it("reports a key revoked for the bare host as revoked (stricter than ssh, which says unknown)", () => {
    const entries = parseKnownHosts(`@revoked noder ${key("edRevoked").text}\nnoder ${key("ed1").text}\n`);
    assert.deepEqual(checkHostKey(entries, "noder", 2222, key("edRevoked").blob), { kind: "revoked", line: 1 });
    assert.deepEqual(checkHostKey(entries, "noder", 2222, key("ed1").blob), { kind: "match" });
    assert.deepEqual(checkHostKey(entries, "noder", 2222, key("ed2").blob), { kind: "unknown" });
  });
});

// Every check runs on the plain file and on the same file hashed by ssh-keygen -H.
for (const variant of ["plain", "hashed"] as const) {
  describe(`checkHostKey on a ${variant} known_hosts file`, () => {
    let entries: KnownHostEntry[];
    let file: string;

    before(() => {
      file = join(dir, `${variant}_known_hosts`);
      writeFileSync(file, hashableFile());
      if (variant === "hashed") {
        execFileSync("ssh-keygen", ["-H", "-f", file], { stdio: "ignore" });
      }
      entries = parseKnownHosts(readFileSync(file, "utf8"));
    });

    const check = (host: string, port: number, name: string) => checkHostKey(entries, host, port, key(name).blob);
    const lineOf = (text: string): number => {
      const index = readFileSync(file, "utf8").split("\n").indexOf(text);
      assert.ok(index >= 0, `line ${text} in ${file}`);
      return index + 1;
    };

    if (variant === "hashed") {
      it("really is hashed where ssh-keygen hashes", () => {
        const hashed = entries.filter((e) => e.hosts.kind === "hashed");
        // node1 x2, node2, node3, [node1]:2222, [node4]:2222, node5, node8, mixed.case.test
        assert.equal(hashed.length, 9);
        assert.ok(entries.filter((e) => e.marker !== undefined).every((e) => e.hosts.kind === "patterns"));
      });
    }

    it("finds the same lines as ssh-keygen -F", () => {
      const lookups: [string, number][] = [
        ["node1", 22], ["node1", 2222], ["node2", 22], ["node3", 22], ["node4", 22], ["node4", 2222],
        ["node5", 22], ["node5", 2200], ["a.example.com", 22], ["bad.example.com", 22], ["example.com", 22],
        ["web1", 22], ["web10", 22], ["x.ca.test", 22], ["nodex", 22], ["node8", 22], ["mixed.case.test", 22],
      ];
      for (const [host, port] of lookups) {
        const name = knownHostsName(host, port);
        assert.deepEqual(lines(entriesForHost(entries, host, port)), sshKeygenFind(file, name), name);
      }
    });

    it("matches any of several keys of a host", () => {
      assert.deepEqual(check("node1", 22, "ed1"), { kind: "match" });
      assert.deepEqual(check("node1", 22, "rsa1"), { kind: "match" });
      assert.deepEqual(check("node3", 22, "ed2"), { kind: "match" });
    });

    it("matches host names case-insensitively", () => {
      assert.deepEqual(check("NODE1", 22, "ed1"), { kind: "match" });
      assert.deepEqual(check("mixed.case.TEST", 22, "ed1"), { kind: "match" });
    });

    it("reports a different key of a known type as a mismatch, with the offending lines", () => {
      const verdict = check("node1", 22, "ed2");
      assert.equal(verdict.kind, "mismatch");
      assert.ok(verdict.kind === "mismatch");
      assert.deepEqual(verdict.knownTypes, ["ssh-ed25519", "ssh-rsa"]);
      assert.equal(verdict.lines.length, 2);
    });

    it("reports a key of a type not known for the host as a mismatch, as ssh does", () => {
      // ssh: "REMOTE HOST IDENTIFICATION HAS CHANGED", "Offending RSA key" for an ED25519 key.
      const node5Plain = entriesForHost(entries, "node5", 22).filter((e) => e.marker === undefined);
      assert.equal(node5Plain.length, 1);
      assert.deepEqual(check("node5", 22, "ed1"), { kind: "mismatch", knownTypes: ["ssh-rsa"], lines: lines(node5Plain) });
      const verdict = check("node1", 22, "ecdsa1");
      assert.ok(verdict.kind === "mismatch" && !verdict.knownTypes.includes(key("ecdsa1").type));
    });

    it("says unknown for a host without entries", () => {
      assert.deepEqual(check("nodex", 22, "ed1"), { kind: "unknown" });
      assert.deepEqual(check("example.com", 22, "ed1"), { kind: "unknown" });
    });

    it("looks non-standard ports up as [host]:port", () => {
      assert.deepEqual(check("node1", 2222, "ed2"), { kind: "match" });
      assert.deepEqual(check("node4", 2222, "rsa1"), { kind: "match" });
      assert.deepEqual(check("node4", 22, "rsa1"), { kind: "unknown" });
      // [node1]:2222 is known, so ssh does not retry without the port: a mismatch.
      assert.equal(check("node1", 2222, "rsa2").kind, "mismatch");
    });

    it("accepts a key listed for the bare host on another port, as ssh does", () => {
      assert.deepEqual(check("node5", 2200, "rsa1"), { kind: "match" });
      // The bare host only ever turns "unknown" into "match", never into "mismatch".
      assert.deepEqual(check("node5", 2200, "ed1"), { kind: "unknown" });
    });

    it("applies wildcards and negation", () => {
      assert.deepEqual(check("a.example.com", 22, "ed1"), { kind: "match" });
      assert.deepEqual(check("a.b.example.com", 22, "ed1"), { kind: "match" });
      assert.deepEqual(check("bad.example.com", 22, "ed1"), { kind: "unknown" });
      assert.deepEqual(check("web1", 22, "rsa2"), { kind: "match" });
      assert.deepEqual(check("web10", 22, "rsa2"), { kind: "unknown" });
    });

    it("reports revoked keys, even where they are also listed as valid", () => {
      const revokedLine = lineOf(`@revoked * ${key("edRevoked").text}`);
      assert.deepEqual(check("nodex", 22, "edRevoked"), { kind: "revoked", line: revokedLine });
      assert.deepEqual(check("node8", 22, "edRevoked"), { kind: "revoked", line: revokedLine });
      assert.deepEqual(check("node1", 2222, "edRevoked"), { kind: "revoked", line: revokedLine });
      // Revoked for node2 only: node2 gets "revoked", node1 still matches.
      assert.deepEqual(check("node2", 22, "ed1"), { kind: "revoked", line: lineOf(`@revoked node2 ${key("ed1").text}`) });
      assert.deepEqual(check("node1", 22, "ed1"), { kind: "match" });
    });

    it("ignores @cert-authority lines for plain keys", () => {
      assert.deepEqual(check("x.ca.test", 22, "ed2"), { kind: "unknown" });
      assert.deepEqual(knownKeyTypes(entries, "x.ca.test", 22), []);
    });

    it("lists known key types in file order, per port", () => {
      assert.deepEqual(knownKeyTypes(entries, "node1", 22), ["ssh-ed25519", "ssh-rsa"]);
      assert.deepEqual(knownKeyTypes(entries, "node1", 2222), ["ssh-ed25519"]);
      assert.deepEqual(knownKeyTypes(entries, "node5", 22), ["ssh-rsa"]);
      assert.deepEqual(knownKeyTypes(entries, "node5", 2200), []); // like ssh: no bare-host fallback here
      assert.deepEqual(knownKeyTypes(entries, "nodex", 22), []); // @revoked * is not a known key
    });
  });
}
