import type { SeededRandom } from "./seeded-random.js";

/** Where to split a node's rows, and how pure the two sides are. */
export interface GiniSplit {
  feature: number;
  threshold: number;
  /** Rows with `X[row][feature] <= threshold`. */
  left: number[];
  right: number[];
  /** Gini impurity of the two sides, weighted by their sizes. */
  impurity: number;
}

/** Gini impurity of a set of rows from its class counts: 1 − Σ pᵢ². */
export function giniImpurity(counts: readonly number[], total: number): number {
  let sumOfSquares = 0;
  for (const count of counts) sumOfSquares += count * count;
  return 1 - sumOfSquares / (total * total);
}

/**
 * The split of `rows` with the lowest weighted Gini impurity, looking at `maxFeatures` features
 * drawn at random (as scikit-learn does, more when none of those separates any rows: a constant
 * feature does not count). Thresholds lie halfway between neighbouring distinct values.
 * `undefined` when no feature separates the rows.
 */
export function bestGiniSplit(
  X: readonly (readonly number[])[],
  y: readonly number[],
  rows: readonly number[],
  classCount: number,
  maxFeatures: number,
  random: SeededRandom,
): GiniSplit | undefined {
  const featureCount = X[rows[0]!]!.length;
  let best: { feature: number; threshold: number; impurity: number } | undefined;
  let examined = 0;
  for (const feature of random.permutation(featureCount)) {
    if (examined >= maxFeatures && best !== undefined) break;
    examined++;
    const candidate = bestThreshold(X, y, rows, classCount, feature);
    if (candidate !== undefined && (best === undefined || candidate.impurity < best.impurity)) best = { feature, ...candidate };
  }
  if (best === undefined) return undefined;
  const left: number[] = [];
  const right: number[] = [];
  for (const row of rows) (X[row]![best.feature]! <= best.threshold ? left : right).push(row);
  return { ...best, left, right };
}

/** The best threshold on one feature, by sweeping the rows in order of that feature. */
function bestThreshold(
  X: readonly (readonly number[])[],
  y: readonly number[],
  rows: readonly number[],
  classCount: number,
  feature: number,
): { threshold: number; impurity: number } | undefined {
  const sorted = [...rows].sort((a, b) => X[a]![feature]! - X[b]![feature]!);
  const leftCounts = new Array<number>(classCount).fill(0);
  const rightCounts = new Array<number>(classCount).fill(0);
  for (const row of sorted) rightCounts[y[row]!]!++;
  const total = sorted.length;
  let best: { threshold: number; impurity: number } | undefined;
  for (let i = 0; i < total - 1; i++) {
    const classIndex = y[sorted[i]!]!;
    leftCounts[classIndex]!++;
    rightCounts[classIndex]!--;
    const value = X[sorted[i]!]![feature]!;
    const next = X[sorted[i + 1]!]![feature]!;
    if (value === next) continue;
    const leftSize = i + 1;
    const rightSize = total - leftSize;
    const impurity = (leftSize * giniImpurity(leftCounts, leftSize) + rightSize * giniImpurity(rightCounts, rightSize)) / total;
    if (best === undefined || impurity < best.impurity) {
      const halfway = (value + next) / 2;
      // Rounding can put the midpoint on `next`, which would send it left too.
      best = { threshold: halfway < next ? halfway : value, impurity };
    }
  }
  return best;
}
