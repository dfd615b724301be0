// The random-forest example (examples/random-forest/): its data generator, its classifier and its
// job function called directly, then the whole script end to end, locally and over the harness nodes.
import { strict as assert } from "node:assert";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bestGiniSplit, giniImpurity } from "../examples/random-forest/best-gini-split.js";
import { generateData, LABEL_NOISE } from "../examples/random-forest/generate-data.js";
import { readLabeledCsv, type LabeledRows } from "../examples/random-forest/labeled-csv.js";
import { RandomForestClassifier } from "../examples/random-forest/random-forest-classifier.js";
import { trainAndScore } from "../examples/random-forest/random-forest.js";
import { SeededRandom } from "../examples/random-forest/seeded-random.js";
import { describeRun, root, runNode, tsx, type Run } from "./fixtures/jobs/support.js";
import { startSshNodes, type SshNodes } from "./harness/sshd-nodes.js";
import { envWithHarnessHome } from "./support/ssh.js";
import { removeDir, tempDir } from "./support/temp.js";

const TIMEOUT = { timeout: 30_000 };

/** The example's data, generated once into a temp directory for this file. */
function exampleData(t: { after(fn: () => void): void }): { dataDir: string; train: Promise<LabeledRows>; test: Promise<LabeledRows> } {
  const dataDir = tempDir("random-forest-data");
  t.after(() => removeDir(dataDir));
  const generated = generateData(dataDir);
  return {
    dataDir,
    train: generated.then(() => readLabeledCsv(join(dataDir, "train.csv"))),
    test: generated.then(() => readLabeledCsv(join(dataDir, "test.csv"))),
  };
}

describe("the random-forest example's parts", () => {
  test("the generated data is the same for the same seed: 3000 train and 1000 test rows of 4 features, labels 0 and 1", TIMEOUT, async (t) => {
    const first = exampleData(t);
    const second = exampleData(t);
    const [train, test] = await Promise.all([first.train, first.test, second.train]);
    for (const file of ["train.csv", "test.csv"]) {
      assert.equal(readFileSync(join(first.dataDir, file), "utf8"), readFileSync(join(second.dataDir, file), "utf8"), file);
    }
    assert.deepEqual([train.X.length, train.y.length, test.X.length, test.y.length], [3000, 3000, 1000, 1000]);
    assert.ok(train.X.every((row) => row.length === 4 && row.every((x) => x >= -1 && x <= 1)));
    assert.deepEqual(new Set([...train.y, ...test.y]), new Set([0, 1]));
  });

  test("the best Gini split is on the feature that separates the classes, halfway between the neighbouring values", () => {
    assert.equal(giniImpurity([2, 2], 4), 0.5);
    assert.equal(giniImpurity([3, 0], 3), 0);
    // Feature 0 is noise; feature 1 puts classes 0 (values 1, 2, 3) and 1 (values 7, 8) apart.
    const X = [[1, 1], [2, 7], [3, 2], [4, 8], [5, 3]];
    const y = [0, 1, 0, 1, 0];
    const split = bestGiniSplit(X, y, [0, 1, 2, 3, 4], 2, 2, new SeededRandom(1));
    assert.deepEqual(split, { feature: 1, threshold: 5, impurity: 0, left: [0, 2, 4], right: [1, 3] });
    // One feature drawn at random: when it is the constant one, the other is looked at as well.
    const constantFirst = [[0, 1], [0, 7], [0, 2], [0, 8], [0, 3]];
    for (let seed = 0; seed < 8; seed++) assert.equal(bestGiniSplit(constantFirst, y, [0, 1, 2, 3, 4], 2, 1, new SeededRandom(seed))?.feature, 1);
    assert.equal(bestGiniSplit([[1], [1]], [0, 1], [0, 1], 2, 1, new SeededRandom(0)), undefined, "nothing separates equal rows");
  });

  test("a forest is deterministic for its seed, beats the majority class well, and fits the training data better the deeper it may grow", TIMEOUT, async (t) => {
    const data = exampleData(t);
    const [train, test] = await Promise.all([data.train, data.test]);
    const fit = (maxDepth: number, seed = 0) => new RandomForestClassifier({ maxDepth, nEstimators: 20, seed }).fit(train.X, train.y);

    const [a, b, c] = [fit(6), fit(6), fit(6, 7)];
    assert.deepEqual(a, b, "the same seed grows the same trees");
    assert.notDeepEqual(a, c, "another seed grows other trees");
    assert.deepEqual(a.predict(test.X), b.predict(test.X));

    const majorityShare = Math.max(...[0, 1].map((label) => test.y.filter((y) => y === label).length)) / test.y.length;
    assert.ok(a.score(test.X, test.y) > majorityShare + 0.15, `test accuracy ${a.score(test.X, test.y)} vs. majority class ${majorityShare}`);
    assert.ok(a.score(test.X, test.y) < 1 - LABEL_NOISE / 2, "no forest sees through the flipped labels");

    const trainAccuracy = [1, 3, 5, 9].map((maxDepth) => fit(maxDepth).score(train.X, train.y));
    for (let i = 1; i < trainAccuracy.length; i++) assert.ok(trainAccuracy[i]! > trainAccuracy[i - 1]!, `train accuracy by depth 1, 3, 5, 9: ${trainAccuracy}`);
    for (const maxDepth of [1, 3]) {
      const forest = fit(maxDepth);
      assert.equal(forest.depthReached(), maxDepth);
      assert.ok(forest.meanLeafCount() <= 2 ** maxDepth);
    }
  });

  test("a forest refuses settings and data it cannot use, saying what is wrong", () => {
    assert.throws(() => new RandomForestClassifier({ maxDepth: 0 }), /maxDepth must be at least 1, not 0/);
    assert.throws(() => new RandomForestClassifier({ nEstimators: 2.5 }), /nEstimators must be a positive integer, not 2.5/);
    assert.throws(() => new RandomForestClassifier().fit([[1], [2]], [0]), /fit got 2 rows but 1 labels/);
    assert.throws(() => new RandomForestClassifier().predict([[1]]), /call fit first/);
  });

  test("a CSV with a line that is not numbers is refused naming the file and line", async (t) => {
    const dir = tempDir("random-forest-csv");
    t.after(() => removeDir(dir));
    const path = join(dir, "bad.csv");
    writeFileSync(path, "x0,label\n0.5,1\nabc,0\n");
    await assert.rejects(readLabeledCsv(path), { message: `${path} line 3: expected 2 numbers, got "abc,0"` });
  });

  test("trainAndScore fits the model it is given on train.csv and returns its score on test.csv with the fitted model", TIMEOUT, async (t) => {
    const data = exampleData(t);
    const test = await data.test;
    const model = new RandomForestClassifier({ maxDepth: 4, nEstimators: 10 });
    const { score, model: fitted } = await trainAndScore(model, data.dataDir);
    assert.ok(fitted instanceof RandomForestClassifier);
    assert.equal(fitted.trees.length, 10);
    assert.equal(score, fitted.score(test.X, test.y));
    assert.ok(score > 0.75, `score ${score}`);
  });
});

/** One line of the table the script prints. */
interface TableRow {
  maxDepth: number;
  testAccuracy: number;
  trainAccuracy: number;
  leavesPerTree: number;
  depthReached: number;
  host: string;
}

/** Runs the example script with `args`, its data and jobs in fresh temp directories. */
async function runExample(t: { after(fn: () => void): void }, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ run: Run; table: TableRow[]; dataDir: string }> {
  const dataDir = join(tempDir("random-forest-data"), "data");
  const dir = tempDir("random-forest-jobs");
  t.after(() => removeDir(join(dataDir, "..")));
  t.after(() => removeDir(dir));
  const run = await runNode(["--import", tsx, join(root, "examples/random-forest/random-forest.ts"), "--data", dataDir, ...args], {
    env: { ...env, MALOCHER_DIR: dir },
    timeoutMs: 45_000,
  });
  const table = [...run.stdout.matchAll(/^ +(\d+) +(\d\.\d{3}) +(\d\.\d{3}) +([\d.]+) +(\d+)  (\S+)$/gm)].map((match) => ({
    maxDepth: Number(match[1]),
    testAccuracy: Number(match[2]),
    trainAccuracy: Number(match[3]),
    leavesPerTree: Number(match[4]),
    depthReached: Number(match[5]),
    host: match[6]!,
  }));
  return { run, table, dataDir };
}

/** What every run of the script prints: one row per depth 1..9, each from the model of that depth. */
function assertTable(run: Run, table: TableRow[]): void {
  assert.equal(run.code, 0, describeRun(run));
  assert.deepEqual(table.map((row) => row.maxDepth), [1, 2, 3, 4, 5, 6, 7, 8, 9], describeRun(run));
  // The fitted models came back: their depth and leaves are those of the job's own maxDepth.
  for (const row of table) {
    assert.equal(row.depthReached, row.maxDepth, `the model in the row of maxDepth ${row.maxDepth}`);
    assert.ok(row.leavesPerTree > 1 && row.leavesPerTree <= 2 ** row.maxDepth, `leaves per tree at maxDepth ${row.maxDepth}: ${row.leavesPerTree}`);
  }
  const first = table[0]!;
  const last = table[8]!;
  assert.ok(last.testAccuracy > first.testAccuracy + 0.15, `deeper trees score better: ${first.testAccuracy} at depth 1, ${last.testAccuracy} at 9`);
  assert.ok(last.trainAccuracy > first.trainAccuracy, "deeper trees fit the training data better");
}

describe("the random-forest script", () => {
  let cluster: SshNodes;
  before(async () => {
    cluster = await startSshNodes(2);
  });
  after(async () => {
    await cluster?.close();
  });

  test("runs locally: generates the data, runs nine jobs, prints the table from the returned models", { timeout: 50_000 }, async (t) => {
    const { run, table, dataDir } = await runExample(t, []);
    assertTable(run, table);
    assert.ok(table.every((row) => row.host === "local"));
    assert.equal((await readLabeledCsv(join(dataDir, "train.csv"))).y.length, 3000, "it wrote the data");
  });

  test("runs over SSH with --hosts: the models cross to the nodes and back", { timeout: 50_000 }, async (t) => {
    const machines = cluster.nodes.map((node) => node.machine);
    const { run, table } = await runExample(t, ["--hosts", machines.join(",")], envWithHarnessHome(t, cluster));
    assertTable(run, table);
    for (const row of table) assert.ok(machines.includes(row.host), `a job ran on ${row.host}`);
  });
});
