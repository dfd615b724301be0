import { readFile, stat } from "node:fs/promises";

/** "name (uid N)" of a file's owner, read from /etc/passwd; for messages about foreign files. */
export async function describeFileOwner(path: string): Promise<string> {
  let uid: number;
  try {
    uid = (await stat(path)).uid;
  } catch {
    return "unknown (the file is gone)";
  }
  const passwd = await readFile("/etc/passwd", "utf8").catch(() => "");
  const name = passwd
    .split("\n")
    .map((line) => line.split(":"))
    .find((fields) => fields[2] === String(uid))?.[0];
  return name === undefined ? `uid ${uid}` : `${name} (uid ${uid})`;
}
