// The original sample, ported: nine jobs fit a random forest with maxDepth 1..9 on the CSV files of
// a data directory on the shared file system and score it on the test file; the table shows how
// depth pays off, and until where.
//   local:        npx tsx examples/random-forest/random-forest.ts
//   on machines:  npx tsx examples/random-forest/random-forest.ts --hosts node1,alice@node2:2222 [--data /shared/dir]
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { isMain, processAll, submit } from "malocher";
import { defaultDataDir, generateData } from "./generate-data.js";
import { readLabeledCsv } from "./labeled-csv.js";
import { RandomForestClassifier } from "./random-forest-classifier.js";

/** What a job sends back: the test accuracy and the fitted model itself. */
export interface TrainAndScoreResult {
  score: number;
  model: RandomForestClassifier;
}

/** The job: runs on a node, fits the model it was given to train.csv and scores it on test.csv. */
export async function trainAndScore(model: RandomForestClassifier, dataDir: string): Promise<TrainAndScoreResult> {
  const train = await readLabeledCsv(join(dataDir, "train.csv"));
  const test = await readLabeledCsv(join(dataDir, "test.csv"));
  model.fit(train.X, train.y);
  return { score: model.score(test.X, test.y), model };
}

/** The value following `flag` on the command line. */
function option(flag: string): string | undefined {
  const index = process.argv.indexOf(flag);
  return index > 0 ? process.argv[index + 1] : undefined;
}

if (isMain(import.meta)) {
  const sshMachines = option("--hosts")?.split(",");
  const dataDir = resolve(option("--data") ?? defaultDataDir); // absolute: the nodes read the same path
  if (!existsSync(join(dataDir, "train.csv")) || !existsSync(join(dataDir, "test.csv"))) await generateData(dataDir);

  const maxDepthOf = new Map<string, number>();
  for (let maxDepth = 1; maxDepth <= 9; maxDepth++) {
    maxDepthOf.set(submit(trainAndScore, new RandomForestClassifier({ maxDepth }), dataDir), maxDepth);
  }

  const rows: { maxDepth: number; result: TrainAndScoreResult; host: string }[] = [];
  let failed = 0;
  for await (const [jobId, result] of processAll({ sshMachines })) {
    const maxDepth = maxDepthOf.get(jobId);
    if (maxDepth === undefined) continue; // a job left in the directory by an earlier run
    if (result.ok) {
      rows.push({ maxDepth, result: result.value as TrainAndScoreResult, host: result.host });
    } else {
      failed++;
      console.error(`job ${jobId} (maxDepth ${maxDepth}) failed: ${result.error.message}`);
    }
  }

  // The fitted models came back as RandomForestClassifier instances: their methods work here too.
  const train = await readLabeledCsv(join(dataDir, "train.csv"));
  console.log("maxDepth  test accuracy  train accuracy  leaves/tree  depth reached  host");
  for (const { maxDepth, result, host } of rows.sort((a, b) => a.maxDepth - b.maxDepth)) {
    const { score, model } = result;
    console.log(
      [
        String(maxDepth).padStart(8),
        score.toFixed(3).padStart(13),
        model.score(train.X, train.y).toFixed(3).padStart(14),
        model.meanLeafCount().toFixed(1).padStart(11),
        String(model.depthReached()).padStart(13),
        host,
      ].join("  "),
    );
  }
  if (failed > 0) process.exitCode = 1;
}
