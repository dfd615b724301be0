// The same example in plain JavaScript: node examples/squares/squares.mjs [--hosts h1,h2]
import { isMain, processAll, submit } from "malocher";

export function square(x) {
  return { x, square: x * x };
}

if (isMain(import.meta)) {
  const hostsFlag = process.argv.indexOf("--hosts");
  const sshMachines = hostsFlag > 0 ? process.argv[hostsFlag + 1]?.split(",") : undefined;

  const inputs = new Map();
  for (let x = 0; x < 100; x++) inputs.set(submit(square, x), x);

  let sum = 0;
  for await (const [jobId, result] of processAll({ sshMachines })) {
    if (!inputs.has(jobId)) continue;
    if (result.ok) {
      sum += result.value.square;
      console.log(`${result.value.x}² = ${result.value.square}  (on ${result.host})`);
    } else {
      console.error(`job ${jobId} failed: ${result.error.message}`);
    }
  }
  console.log(`sum of squares 0..99 = ${sum}`);
}
