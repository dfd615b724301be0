import { bestGiniSplit, giniImpurity } from "./best-gini-split.js";
import { majorityClass } from "./majority-class.js";
import type { SeededRandom } from "./seeded-random.js";
import { Leaf, Split, type TreeNode } from "./tree-node.js";

export interface TreeLimits {
  /** Splits on the way from the root to any leaf, at most. */
  maxDepth: number;
  /** Features drawn at random at each split. */
  maxFeatures: number;
  classCount: number;
}

/**
 * Grows a classification tree on `rows` of `X` (class indices in `y`): each node splits where the
 * weighted Gini impurity drops most, until the rows are pure, `maxDepth` is reached, or no split
 * makes the two sides purer than the node.
 */
export function growTree(
  X: readonly (readonly number[])[],
  y: readonly number[],
  rows: readonly number[],
  limits: TreeLimits,
  random: SeededRandom,
  depth = 0,
): TreeNode {
  const leaf = new Leaf(majorityClass(rows.map((row) => y[row]!), limits.classCount));
  const pure = rows.every((row) => y[row] === y[rows[0]!]);
  if (depth >= limits.maxDepth || rows.length < 2 || pure) return leaf;
  const split = bestGiniSplit(X, y, rows, limits.classCount, limits.maxFeatures, random);
  if (split === undefined || split.impurity >= impurityOf(y, rows, limits.classCount)) return leaf;
  return new Split(
    split.feature,
    split.threshold,
    growTree(X, y, split.left, limits, random, depth + 1),
    growTree(X, y, split.right, limits, random, depth + 1),
  );
}

function impurityOf(y: readonly number[], rows: readonly number[], classCount: number): number {
  const counts = new Array<number>(classCount).fill(0);
  for (const row of rows) counts[y[row]!]!++;
  return giniImpurity(counts, rows.length);
}
