/**
 * The chaos test's supervisor, a process of its own so that it can be killed: runs every job of
 * the directory over the nodes and exits 0 when all are done. Argument: a JSON settings object.
 */
import { Malocher } from "malocher";

const settings = JSON.parse(process.argv[2] ?? "{}") as {
  dir: string;
  machines: string[];
  privateKey: string;
  knownHosts: string;
};
const malocher = new Malocher({ dir: settings.dir });
let results = 0;
for await (const [, result] of malocher.processAll({
  sshMachines: settings.machines,
  sshPrivateKey: settings.privateKey,
  knownHosts: settings.knownHosts,
  slots: 3,
  retries: 1000,
  heartbeatTimeoutMs: 2000,
  leaseTimeoutMs: 4000,
})) {
  results++;
  if (!result.ok) process.stderr.write(`chaos supervisor: job ${result.jobId} failed: ${result.error.code} ${result.error.message}\n`);
}
process.stdout.write(`chaos supervisor: ${results} results\n`);
