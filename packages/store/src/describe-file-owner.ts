import { stat } from "node:fs/promises";
import { describeOwner } from "./check-directory-security.js";

/** "name (uid N)" of a file's owner, for messages about foreign files. */
export async function describeFileOwner(path: string): Promise<string> {
  try {
    return describeOwner((await stat(path)).uid);
  } catch {
    return "unknown (the file is gone)";
  }
}
