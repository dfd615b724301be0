import { open } from "node:fs/promises";
import { SPEC_CHUNK_PREFIX_BYTES, chunkMemberId, directoryLayout, specChunkMemberCount } from "@malocher/protocol";

/**
 * The ids of the members of the spec chunk `chunkName`, from the start of its header (one small
 * read), removed members included; `[]` when the chunk file is gone, `undefined` when its header
 * cannot be read or is not a chunk's.
 */
export async function readSpecChunkMembers(dir: string, chunkName: string): Promise<string[] | undefined> {
  let head: Buffer;
  try {
    const file = await open(directoryLayout.specChunkFile(dir, chunkName), "r");
    try {
      head = Buffer.alloc(SPEC_CHUNK_PREFIX_BYTES);
      const { bytesRead } = await file.read(head, 0, head.length, 0);
      head = head.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? [] : undefined;
  }
  try {
    const count = specChunkMemberCount(head, chunkName);
    return Array.from({ length: count }, (_, index) => chunkMemberId(chunkName, index));
  } catch {
    return undefined;
  }
}
