// A pipeline: prepare a data set once, train the random forest per depth on it (nine jobs that take
// the prepared data with resultOf), pick the best by its validation accuracy (one job that takes
// the nine results), and score that one model on the held-out rows it has never seen. Each job is
// submitted with a key, so a run that is killed and started again picks the pipeline up where it
// stopped instead of redoing the finished steps.
//   local:        npx tsx examples/pipeline/pipeline.ts
//   on machines:  npx tsx examples/pipeline/pipeline.ts --hosts node1,alice@node2:2222 [--seed 7]
import { isMain, processAll, resultOf, submit } from "malocher";
import { generateRows } from "../random-forest/generate-data.js";
import type { LabeledRows } from "../random-forest/labeled-csv.js";
import { RandomForestClassifier } from "../random-forest/random-forest-classifier.js";
import { SeededRandom } from "../random-forest/seeded-random.js";

/** The prepared data: rows to train on, rows to choose the depth by, and rows kept for the end. */
export interface DataSet {
  train: LabeledRows;
  validation: LabeledRows;
  heldOut: LabeledRows;
}

/** A trained candidate: its depth, its accuracy on the validation rows, and the fitted model. */
export interface Candidate {
  maxDepth: number;
  validationScore: number;
  model: RandomForestClassifier;
}

/** Step 1 (one job): makes the data set, the same rows for the same seed. */
export function prepare(seed: number, rows: number): DataSet {
  const random = new SeededRandom(seed);
  return { train: generateRows(rows, random), validation: generateRows(rows / 3, random), heldOut: generateRows(rows / 3, random) };
}

/** Step 2 (one job per depth): fits the configured model to the prepared training rows. */
export function trainOn(data: DataSet, model: RandomForestClassifier): Candidate {
  model.fit(data.train.X, data.train.y);
  return { maxDepth: model.maxDepth, validationScore: model.score(data.validation.X, data.validation.y), model };
}

/** Step 3 (one job): the candidate with the best validation accuracy (the shallower one on a tie). */
export function pickBest(candidates: Candidate[]): Candidate {
  return candidates.reduce((best, candidate) => (candidate.validationScore > best.validationScore ? candidate : best));
}

/** Step 4 (one job): the chosen model's accuracy on the held-out rows. */
export function scoreHeldOut(best: Candidate, data: DataSet): { maxDepth: number; validationScore: number; heldOutScore: number } {
  return { maxDepth: best.maxDepth, validationScore: best.validationScore, heldOutScore: best.model.score(data.heldOut.X, data.heldOut.y) };
}

/** The value following `flag` on the command line. */
function option(flag: string): string | undefined {
  const index = process.argv.indexOf(flag);
  return index > 0 ? process.argv[index + 1] : undefined;
}

if (isMain(import.meta)) {
  const sshMachines = option("--hosts")?.split(",");
  const seed = Number(option("--seed") ?? 42);
  const rows = Number(option("--rows") ?? 3000);
  const depths = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const keyed = (step: string) => submit.with({ key: `pipeline-${seed}-${rows}-${step}`, name: step });

  const data = keyed("prepare")(prepare, seed, rows);
  const trained = depths.map((maxDepth) => keyed(`depth-${maxDepth}`)(trainOn, resultOf<DataSet>(data), new RandomForestClassifier({ maxDepth, nEstimators: 30, seed })));
  const best = keyed("pick-best")(pickBest, trained.map((jobId) => resultOf<Candidate>(jobId)));
  const final = keyed("held-out")(scoreHeldOut, resultOf<Candidate>(best), resultOf<DataSet>(data));

  const candidates = new Map<string, Candidate>();
  let failed = 0;
  for await (const [jobId, result] of processAll({ sshMachines })) {
    if (!result.ok) {
      failed++;
      console.error(`${result.name ?? jobId} failed: [${result.error.code}] ${result.error.message}`);
    } else if (trained.includes(jobId)) {
      candidates.set(jobId, result.value as Candidate);
      console.log(`${result.name}: validation accuracy ${(result.value as Candidate).validationScore.toFixed(3)} (on ${result.host})`);
    } else if (jobId === final) {
      const { maxDepth, validationScore, heldOutScore } = result.value as ReturnType<typeof scoreHeldOut>;
      console.log(`best: maxDepth ${maxDepth}, validation accuracy ${validationScore.toFixed(3)}, held-out accuracy ${heldOutScore.toFixed(3)}`);
    }
  }
  if (candidates.size === 0 && failed === 0) console.log("nothing left to run: the pipeline finished in an earlier run (a new --seed starts a new one)");
  if (failed > 0) process.exitCode = 1;
}
