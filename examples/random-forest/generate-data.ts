// Writes train.csv and test.csv for the random-forest example:
//   npx tsx examples/random-forest/generate-data.ts [dataDir]
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMain } from "malocher";
import { writeLabeledCsv, type LabeledRows } from "./labeled-csv.js";
import { SeededRandom } from "./seeded-random.js";

/** Where the example keeps its data unless told otherwise (gitignored). */
export const defaultDataDir = fileURLToPath(new URL("data/", import.meta.url));

/** The share of labels flipped at random, so that no model can score above about 1 − this. */
export const LABEL_NOISE = 0.1;

/**
 * A noisy two-class problem that takes deep trees to learn: four features uniform in [-1, 1] (to 4 decimals); the
 * class is whether (x0, x1) lies under a wave and outside a disc; x2 and x3 are noise. A tenth of
 * the labels are flipped.
 */
export function generateRows(count: number, random: SeededRandom): LabeledRows {
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < count; i++) {
    const row = Array.from({ length: 4 }, () => Math.round(random.between(-1, 1) * 1e4) / 1e4); // 4 decimals: a readable CSV
    const [x0, x1] = row as [number, number];
    const label = x1 < 0.5 * Math.sin(3 * x0) && x0 * x0 + (x1 + 0.3) * (x1 + 0.3) > 0.2 ? 1 : 0;
    X.push(row);
    y.push(random.next() < LABEL_NOISE ? 1 - label : label);
  }
  return { X, y };
}

/** Writes `train.csv` and `test.csv` into `dataDir` (created if missing), the same rows for the same seed. */
export async function generateData(dataDir: string, { trainRows = 3000, testRows = 1000, seed = 42 } = {}): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const random = new SeededRandom(seed);
  await writeLabeledCsv(join(dataDir, "train.csv"), generateRows(trainRows, random));
  await writeLabeledCsv(join(dataDir, "test.csv"), generateRows(testRows, random));
}

if (isMain(import.meta)) {
  const dataDir = process.argv[2] ?? defaultDataDir;
  await generateData(dataDir);
  console.log(`wrote ${join(dataDir, "train.csv")} and ${join(dataDir, "test.csv")}`);
}
