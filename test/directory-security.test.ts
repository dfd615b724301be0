// The shared directory is a trust boundary: checkDirectorySecurity refuses directories that another
// account could write a job spec into, on the real file system with a real second Unix account.
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { before, test, type TestContext } from "node:test";
import { MalocherError } from "@malocher/protocol";
import { checkDirectorySecurity, describeOwner } from "@malocher/store";
import { OTHER_USER, ensureOtherUser } from "./harness/other-user.js";

let other: { uid: number; gid: number } | undefined;

before(async () => {
  if (process.getuid?.() === 0) other = await ensureOtherUser();
});

function needsRoot(t: TestContext): boolean {
  if (process.getuid?.() !== 0 || other === undefined) {
    t.skip(`needs root and the ${OTHER_USER} account`);
    return false;
  }
  return true;
}

/** A private temp directory under /tmp (0700, ours), removed after the test. */
function base(t: TestContext): string {
  const path = mkdtempSync("/tmp/malocher-secure-");
  t.after(() => rmSync(path, { recursive: true, force: true }));
  return path;
}

/** mkdir, then chmod: mkdir's mode is masked by the umask. */
function mkdirMode(path: string, mode: number): string {
  mkdirSync(path);
  chmodSync(path, mode);
  return path;
}

function refusal(fn: () => unknown): MalocherError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof MalocherError, `expected a MalocherError, got ${String(error)}`);
    assert.equal(error.code, "SHARED_DIR_INSECURE");
    return error;
  }
  assert.fail("expected SHARED_DIR_INSECURE");
}

const q = (path: string): string => `'${path}'`;

test("a fresh 0700 directory under a sticky world-writable parent is accepted", (t) => {
  assert.equal(statSync("/tmp").mode & 0o1777, 0o1777, "/tmp is 1777 here");
  const sticky = mkdirMode(join(base(t), "sticky"), 0o1777);
  const dir = mkdirMode(join(sticky, "jobs"), 0o700);
  assert.deepEqual(checkDirectorySecurity(dir), []);
  assert.deepEqual(checkDirectorySecurity(dir, { allowSharedWriters: true }), []);
});

test("a group-writable (0770) or world-writable (0777) directory is refused with the chmod that fixes it", (t) => {
  for (const mode of [0o770, 0o777]) {
    const dir = mkdirMode(join(base(t), "jobs"), mode);
    const error = refusal(() => checkDirectorySecurity(dir));
    assert.ok(error.message.includes(`chmod go-w ${q(dir)}`), error.message);
    assert.ok(error.message.includes(`mode 0${mode.toString(8)}`), error.message);
    assert.ok(error.message.includes("owner root (uid 0)"), error.message);
    assert.match(error.message, mode === 0o777 ? /writable by its group .* and every user/ : /writable by its group root \(gid 0\)/);
    assert.match(error.message, /--allow-shared-dir-writers/);
    // A sticky bit on the directory itself does not help: others could still add job specs.
    chmodSync(dir, 0o1000 | mode);
    refusal(() => checkDirectorySecurity(dir));
  }
});

test("a group-writable parent without the sticky bit is refused and named; with the sticky bit it is fine", (t) => {
  const parent = mkdirMode(join(base(t), "project"), 0o775);
  const dir = mkdirMode(join(parent, "jobs"), 0o700);
  const error = refusal(() => checkDirectorySecurity(dir));
  assert.ok(error.message.includes(`${parent} (a parent directory; mode 0775`), error.message);
  assert.ok(error.message.includes(`chmod go-w ${q(parent)}`), error.message);
  assert.ok(!error.message.includes(`chmod go-w ${q(dir)}`), "the directory itself is fine");
  chmodSync(parent, 0o1775);
  assert.deepEqual(checkDirectorySecurity(dir), []);
});

test("a parent owned by another account is refused with the chown that fixes it", (t) => {
  if (!needsRoot(t) || other === undefined) return;
  const parent = mkdirMode(join(base(t), "theirs"), 0o755);
  chownSync(parent, other.uid, other.gid);
  const dir = mkdirMode(join(parent, "jobs"), 0o700);
  const error = refusal(() => checkDirectorySecurity(dir));
  assert.ok(error.message.includes(`${parent} (a parent directory; mode 0755, owner ${OTHER_USER} (uid ${other.uid}))`), error.message);
  assert.ok(error.message.includes(`chown root ${q(parent)}`), error.message);
  assert.match(error.message, /owned by another account, not by root or you/);
});

test("a directory owned by another account is refused, even with mode 0700", (t) => {
  if (!needsRoot(t) || other === undefined) return;
  const dir = mkdirMode(join(base(t), "jobs"), 0o700);
  chownSync(dir, other.uid, other.gid);
  const error = refusal(() => checkDirectorySecurity(dir));
  assert.ok(error.message.includes(`owner ${OTHER_USER} (uid ${other.uid})`), error.message);
  assert.ok(error.message.includes(`chown root ${q(dir)}`), error.message);
  assert.ok(!error.message.includes("chmod"), "its mode is fine");
});

test("a directory owned by nobody (65534) or by an id without an account gets the NFS idmapping message", (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root to chown");
  const root = base(t);
  const unknownUid = findUnusedUid();
  for (const uid of [65534, unknownUid]) {
    const dir = mkdirMode(join(root, `jobs-${uid}`), 0o700);
    chownSync(dir, uid, uid);
    const error = refusal(() => checkDirectorySecurity(dir));
    assert.match(error.message, /unmapped id/);
    assert.match(error.message, /NFSv4/);
    assert.match(error.message, /Domain in \/etc\/idmapd\.conf/);
    assert.match(error.message, /sec=sys/);
    assert.match(error.message, /NFSv3/);
    assert.ok(error.message.includes(`uid ${uid}`), error.message);
    assert.ok(error.message.includes(`chown root ${q(dir)}`), error.message);
  }
  assert.equal(describeOwner(65534), "nobody (uid 65534)");
  assert.equal(describeOwner(unknownUid), `uid ${unknownUid} (no such user here)`);
  assert.equal(describeOwner(0), "root (uid 0)");
});

test("allowSharedWriters turns each refusal into a warning that still names the path and the fix", (t) => {
  const root = base(t);
  const cases: Array<{ name: string; setup: () => string; expect: (dir: string) => string }> = [
    { name: "0770 dir", setup: () => mkdirMode(join(root, "a"), 0o770), expect: (dir) => `chmod go-w ${q(dir)}` },
    { name: "0777 dir", setup: () => mkdirMode(join(root, "b"), 0o777), expect: (dir) => `chmod go-w ${q(dir)}` },
    {
      name: "group-writable parent",
      setup: () => mkdirMode(join(mkdirMode(join(root, "c"), 0o770), "jobs"), 0o700),
      expect: (dir) => `chmod go-w ${q(dirname(dir))}`,
    },
  ];
  if (process.getuid?.() === 0 && other !== undefined) {
    const { uid, gid } = other;
    cases.push(
      {
        name: "parent owned by another account",
        setup: () => {
          const parent = mkdirMode(join(root, "d"), 0o755);
          chownSync(parent, uid, gid);
          return mkdirMode(join(parent, "jobs"), 0o700);
        },
        expect: () => `chown root ${q(join(root, "d"))}`,
      },
      {
        name: "dir owned by another account",
        setup: () => {
          const dir = mkdirMode(join(root, "e"), 0o700);
          chownSync(dir, uid, gid);
          return dir;
        },
        expect: (dir) => `chown root ${q(dir)}`,
      },
      {
        name: "dir owned by nobody",
        setup: () => {
          const dir = mkdirMode(join(root, "f"), 0o700);
          chownSync(dir, 65534, 65534);
          return dir;
        },
        expect: () => "idmapd.conf",
      },
    );
  }
  for (const { name, setup, expect } of cases) {
    const dir = setup();
    refusal(() => checkDirectorySecurity(dir));
    const warnings = checkDirectorySecurity(dir, { allowSharedWriters: true });
    assert.equal(warnings.length, 1, `${name}: ${JSON.stringify(warnings)}`);
    const [warning] = warnings as [string];
    assert.ok(warning.includes(expect(dir)), `${name}: ${warning}`);
    assert.ok(warning.includes(dir), `${name}: ${warning}`);
    assert.match(warning, /allow-shared-dir-writers/);
  }
});

test("each problem is listed, so one message gives every fix", (t) => {
  const parent = mkdirMode(join(base(t), "project"), 0o777);
  const dir = mkdirMode(join(parent, "jobs"), 0o770);
  const error = refusal(() => checkDirectorySecurity(dir));
  assert.ok(error.message.includes(`chmod go-w ${q(dir)}`), error.message);
  assert.ok(error.message.includes(`chmod go-w ${q(parent)}`), error.message);
  assert.equal(checkDirectorySecurity(dir, { allowSharedWriters: true }).length, 2);
});

test("a symlinked path is checked at its real path, and the message says so", (t) => {
  const root = base(t);
  const real = mkdirMode(join(root, "real"), 0o700);
  const link = join(root, "link");
  symlinkSync(real, link);
  assert.deepEqual(checkDirectorySecurity(link), []);

  chmodSync(real, 0o770);
  const error = refusal(() => checkDirectorySecurity(link));
  assert.ok(error.message.includes(`${link} (reached through a symlink; checked at its real path ${real})`), error.message);
  assert.ok(error.message.includes(`chmod go-w ${q(real)}`), error.message);

  // A safe directory reached through a symlink that others could re-point is not safe.
  chmodSync(real, 0o700);
  const shared = mkdirMode(join(root, "shared"), 0o777);
  const planted = join(shared, "jobs-link");
  symlinkSync("../real", planted);
  const viaShared = refusal(() => checkDirectorySecurity(planted));
  assert.ok(viaShared.message.includes(`holds the symlink ${planted}`), viaShared.message);
  assert.ok(viaShared.message.includes(`chmod go-w ${q(shared)}`), viaShared.message);
});

test("a directory that does not exist yet is judged by its existing parents", (t) => {
  const root = base(t);
  assert.deepEqual(checkDirectorySecurity(join(root, "new", "jobs")), []);
  const open = mkdirMode(join(root, "open"), 0o775);
  const error = refusal(() => checkDirectorySecurity(join(open, "new", "jobs")));
  assert.ok(error.message.includes(`chmod go-w ${q(open)}`), error.message);
});

test("below the home directory, the parents above home are not checked", (t) => {
  const root = base(t);
  chmodSync(root, 0o775); // group-writable, but above home
  const home = mkdirMode(join(root, "home"), 0o700);
  const savedHome = process.env.HOME;
  process.env.HOME = home;
  try {
    assert.deepEqual(checkDirectorySecurity(mkdirMode(join(home, "jobs"), 0o700)), []);
    // Home itself is checked…
    chmodSync(home, 0o770);
    const error = refusal(() => checkDirectorySecurity(join(home, "jobs")));
    assert.ok(error.message.includes(`chmod go-w ${q(home)}`), error.message);
    assert.ok(!error.message.includes(`${q(root)}`), error.message);
    // …and a directory outside home is checked up to /.
    chmodSync(home, 0o700);
    const outside = mkdirMode(join(root, "outside"), 0o700);
    const outsideError = refusal(() => checkDirectorySecurity(outside));
    assert.ok(outsideError.message.includes(`chmod go-w ${q(root)}`), outsideError.message);
  } finally {
    if (savedHome === undefined) delete process.env.HOME;
    else process.env.HOME = savedHome;
  }
});

function findUnusedUid(): number {
  for (let uid = 4_242_000; ; uid++) {
    try {
      execFileSync("getent", ["passwd", String(uid)], { stdio: "ignore" });
    } catch {
      return uid;
    }
  }
}
