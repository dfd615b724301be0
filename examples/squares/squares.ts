// Submit 100 functions, run them, print the results.
//   local:        npx tsx examples/squares/squares.ts
//   on machines:  npx tsx examples/squares/squares.ts --hosts node1,alice@node2:2222
import { isMain, processAll, submit } from "malocher";

/** The job: runs on a node, in a warm worker. */
export function square(x: number): { x: number; square: number } {
  return { x, square: x * x };
}

if (isMain(import.meta)) {
  const hostsFlag = process.argv.indexOf("--hosts");
  const sshMachines = hostsFlag > 0 ? process.argv[hostsFlag + 1]?.split(",") : undefined;

  const inputs = new Map<string, number>();
  for (let x = 0; x < 100; x++) inputs.set(submit(square, x), x);

  let sum = 0;
  for await (const [jobId, result] of processAll({ sshMachines })) {
    if (!inputs.has(jobId)) continue; // a job left in the directory by an earlier run
    if (result.ok) {
      const { x, square: y } = result.value as ReturnType<typeof square>;
      sum += y;
      console.log(`${x}² = ${y}  (on ${result.host})`);
    } else {
      console.error(`job ${jobId} failed: ${result.error.message}`);
    }
  }
  console.log(`sum of squares 0..99 = ${sum}`);
}
