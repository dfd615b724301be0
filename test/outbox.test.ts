/**
 * The agent's Outbox (issue 19): what an agent sends in one turn of the event loop leaves in one
 * frame, a job's `jobStarted` rides with the next frame while the agent is busy sending, and
 * nothing waits on a quiet agent. The channel here records what would go on the wire, encoded and
 * decoded as the supervisor reads it.
 */
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { decodeAgentFrame, encodeAgentFrames, type AgentMessage } from "@malocher/protocol";
import { Outbox } from "../packages/agent/src/link/outbox.js";
import type { SupervisorChannel } from "../packages/agent/src/link/supervisor-channel.js";
import { waitFor } from "./support/wait.js";

function recordingChannel(): { channel: SupervisorChannel; frames: AgentMessage["type"][][] } {
  const frames: AgentMessage["type"][][] = [];
  const channel: SupervisorChannel = {
    open: () => {},
    connected: true,
    close: async () => {},
    send: (...messages) => {
      for (const frame of encodeAgentFrames(messages)) frames.push(decodeAgentFrame(frame).map((message) => message.type));
    },
  };
  return { channel, frames };
}

const JOB = "0mwwchezg-41e62dbbbee2";
const started: AgentMessage = { type: "jobStarted", jobId: JOB, attempt: 1 };
const finished: AgentMessage = { type: "jobFinished", jobId: JOB, ok: true, durationMs: 1 };

test("messages of one turn leave in one frame at its end, in order", async () => {
  const { channel, frames } = recordingChannel();
  const outbox = new Outbox(channel);
  outbox.send(finished);
  outbox.send({ type: "heartbeat", running: 0, load: 0 });
  assert.deepEqual(frames, [], "nothing before the turn ends");
  await nextTurn();
  assert.deepEqual(frames, [["jobFinished", "heartbeat"]]);
});

test("a quiet agent sends jobStarted at once; a busy one sends it with the next frame, or alone once its wait is over", async () => {
  const { channel, frames } = recordingChannel();
  const LATER_MS = 1000; // longer than a turn of the event loop on a loaded machine
  const outbox = new Outbox(channel, LATER_MS);
  outbox.sendLater(started);
  await nextTurn();
  assert.deepEqual(frames, [["jobStarted"]], "quiet: it went at the end of the turn");
  // Busy (a frame just went out): the next jobStarted waits for the next job's result.
  outbox.sendLater(started);
  await nextTurn();
  assert.equal(frames.length, 1, "held for company");
  outbox.send(finished);
  await nextTurn();
  assert.deepEqual(frames.at(-1), ["jobStarted", "jobFinished"]);
  // Busy, and no frame follows: it goes alone once its wait is over, not before.
  const heldAt = performance.now();
  outbox.sendLater(started);
  assert.ok(await waitFor(() => frames.length === 3, 10 * LATER_MS), "the held jobStarted went out");
  assert.ok(performance.now() - heldAt >= LATER_MS - 5, "not before its wait was over");
  assert.deepEqual(frames.at(-1), ["jobStarted"]);
});

test("flush sends what is pending at once (before a bye)", () => {
  const { channel, frames } = recordingChannel();
  const outbox = new Outbox(channel);
  outbox.send(finished);
  outbox.flush();
  assert.deepEqual(frames, [["jobFinished"]]);
  outbox.flush();
  assert.equal(frames.length, 1, "nothing twice");
});
