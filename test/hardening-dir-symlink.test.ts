/**
 * Issue 16, point 8: a `--dir` reached through a symlink that another account owns (in a sticky
 * directory like /tmp, where its owner may repoint it at any time) is refused.
 */
import { strict as assert } from "node:assert";
import { chmodSync, lchownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import { MalocherError } from "@malocher/protocol";
import { checkDirectorySecurity } from "@malocher/store";
import { OTHER_USER, ensureOtherUser } from "./harness/other-user.js";

let other: { uid: number; gid: number } | undefined;
before(async () => {
  if (process.getuid?.() === 0) other = await ensureOtherUser();
});

test("a symlinked --dir owned by another account in a sticky directory is refused", (t) => {
  if (other === undefined) return t.skip(`needs root and the ${OTHER_USER} account`);
  const root = mkdtempSync("/tmp/malocher-dirlink-");
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const real = join(root, "real");
  mkdirSync(real);
  chmodSync(real, 0o700);
  const sticky = join(root, "sticky");
  mkdirSync(sticky);
  chmodSync(sticky, 0o1777);
  const link = join(sticky, "jobs");
  symlinkSync(real, link);
  assert.deepEqual(checkDirectorySecurity(link), [], "our own symlink is fine");
  lchownSync(link, other.uid, other.gid); // as if the other account had made it
  assert.throws(
    () => checkDirectorySecurity(link),
    (error: unknown) => error instanceof MalocherError && error.code === "SHARED_DIR_INSECURE" && error.message.includes(`${link} (a symlink on the way`),
  );
});
