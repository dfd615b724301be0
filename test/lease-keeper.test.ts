// The agent's fencing check (LeaseKeeper): a claim that someone took away is reported, and a job
// claimed while the check lists the claims is not. The second was a lost job: the agent dropped
// the run, its claim stayed in running/ under a live lease, and no agent ever ran it (W1 on 4
// nodes stopped at 1,999 of 2,000 results about once in 30 runs).
import { strict as assert } from "node:assert";
import { existsSync, unlinkSync } from "node:fs";
import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { directoryLayout, newJobId } from "@malocher/protocol";
import { claimJob, enqueueJob, openClaimDirectory, prepareSharedDirectory } from "@malocher/store";
import { LeaseKeeper, LEASE_RENEW_MS } from "../packages/agent/src/lease-keeper.js";
import { removeDir, tempDir } from "./support/temp.js";

test("the fencing check reports a claim taken away, and no job claimed while it lists the claims", { timeout: 30_000 }, async (t) => {
  const dir = tempDir("lease-keeper");
  t.after(() => removeDir(dir));
  prepareSharedDirectory(dir, { create: true });
  const agentId = "127.0.0.1_1-0123abcd";
  await openClaimDirectory(dir, agentId);
  const claim = async (jobId: string) => {
    enqueueJob(dir, jobId);
    assert.ok(await claimJob(dir, agentId, jobId), `${jobId} claimed`);
  };
  const kept = newJobId();
  const takenAway = newJobId();
  await claim(kept);
  await claim(takenAway);
  unlinkSync(directoryLayout.runningFile(dir, agentId, takenAway)); // a supervisor requeued it

  // Jobs are claimed one after another while the keeper renews: some of them during its listing
  // of the claims. Their claims are all there, so none may be reported lost.
  const held = new Map([kept, takenAway].map((jobId) => [jobId, { jobId }]));
  const lost: string[] = [];
  let renewals = 0;
  const keeper = new LeaseKeeper({
    dir,
    agentId,
    host: "127.0.0.1",
    processGroups: () => [],
    heldClaims: () => [...held.values()],
    claimLost: ({ jobId }) => {
      lost.push(jobId);
      held.delete(jobId); // the agent drops the run
    },
    leaseLost: () => assert.fail("the lease is there"),
    tick: () => renewals++,
  });
  await keeper.start();
  t.after(() => keeper.stop());
  let claimed = 0;
  while (renewals < 3) {
    const jobId = newJobId();
    await claim(jobId);
    held.set(jobId, { jobId }); // the agent's run for it, made once the claim is in place
    claimed++;
    await nextTurn(); // a claim is synchronous: the keeper's turns come between two
  }
  assert.deepEqual(lost, [takenAway], `only the claim taken away is reported lost (${claimed} jobs claimed during ${renewals} renewals every ${LEASE_RENEW_MS} ms)`);
});

test("stop during a write of the lease removes the lease for good: the write does not bring it back, and no renewal follows", { timeout: 30_000 }, async (t) => {
  const dir = tempDir("lease-keeper-stop");
  t.after(() => removeDir(dir));
  prepareSharedDirectory(dir, { create: true });
  const agentId = "127.0.0.1_1-4567cdef";
  const keeper = new LeaseKeeper({
    dir,
    agentId,
    host: "127.0.0.1",
    processGroups: () => [],
    heldClaims: () => [],
    claimLost: () => assert.fail("no claim is held"),
    leaseLost: () => assert.fail("the lease was not taken away"),
    tick: () => {},
  });
  // start() writes the first lease: stop() comes while that write is under way (an agent that
  // stops at once, as a renewal's write can be under way when an agent stops after its last job).
  await Promise.all([keeper.start(), keeper.stop()]);
  t.after(() => keeper.stop()); // should a renewal still be due, it ends with the test
  assert.equal(existsSync(directoryLayout.leaseFile(dir, agentId)), false, "the lease is gone");
  assert.equal((keeper as unknown as { timer?: NodeJS.Timeout }).timer, undefined, "no renewal is due");
});
