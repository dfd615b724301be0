// The agent's WebSocket to its supervisor when the supervisor's address cannot be reached (a wrong
// slurm.supervisorHost, a firewall): the agent says so on its output once, naming the address and
// the error, and gives up after its grace period with the same words.
import { strict as assert } from "node:assert";
import { createServer } from "node:net";
import { test } from "node:test";
import { SupervisorLink } from "../packages/agent/src/link/supervisor-link.js";
import { within } from "./support/wait.js";

/** A port of 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test("an agent that cannot reach its supervisor says where and why once, then gives up after its grace period", async () => {
  const url = `ws://127.0.0.1:${await closedPort()}/`;
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (String(chunk).startsWith("malocher agent:")) written.push(String(chunk));
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    const lost = new Promise<string>((resolve) => {
      const link = new SupervisorLink(url, "not-a-real-token", 1500, { message: () => {}, connected: () => assert.fail("connected"), lost: resolve });
      link.open();
    });
    const reason = await within(lost, 10_000, "the link to give up");
    assert.equal(reason, `cannot reach the supervisor at ${url} (ECONNREFUSED) for 1500 ms`);
    assert.deepEqual(written, [`malocher agent: cannot reach the supervisor at ${url} (ECONNREFUSED); trying again for 2 s\n`]);
  } finally {
    process.stderr.write = write;
  }
});
