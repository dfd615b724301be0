import { access } from "node:fs/promises";

/** Whether something is at `path` (any error reads as no). */
export async function pathExists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
