/** Asserting on the MalocherError a call gives. */
import { strict as assert } from "node:assert";
import { MalocherError } from "malocher";

/** The MalocherError `promise` rejects with; fails the test if it resolves or rejects with anything else. */
export async function malocherRejection(promise: Promise<unknown>): Promise<MalocherError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof MalocherError, `expected a MalocherError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a rejection");
}
