import { readFile, writeFile } from "node:fs/promises";

/** Rows of numeric features and one numeric label per row, as a CSV file holds them. */
export interface LabeledRows {
  X: number[][];
  y: number[];
}

/** Writes `x0,x1,…,label` with a header line. */
export async function writeLabeledCsv(path: string, { X, y }: LabeledRows): Promise<void> {
  const featureCount = X[0]?.length ?? 0;
  const header = [...Array.from({ length: featureCount }, (_, i) => `x${i}`), "label"].join(",");
  const lines = X.map((row, i) => [...row, y[i]].join(","));
  await writeFile(path, `${header}\n${lines.join("\n")}\n`);
}

/** Reads a CSV written by `writeLabeledCsv`: a header, then numbers, the last column the label. */
export async function readLabeledCsv(path: string): Promise<LabeledRows> {
  const [header, ...lines] = (await readFile(path, "utf8")).trimEnd().split("\n");
  const columnCount = header?.split(",").length ?? 0;
  if (columnCount < 2) throw new Error(`${path}: expected a header of feature columns and a label column`);
  const X: number[][] = [];
  const y: number[] = [];
  lines.forEach((line, i) => {
    const values = line.split(",").map(Number);
    if (values.length !== columnCount || values.some(Number.isNaN)) {
      throw new Error(`${path} line ${i + 2}: expected ${columnCount} numbers, got "${line}"`);
    }
    y.push(values.pop()!);
    X.push(values);
  });
  return { X, y };
}
