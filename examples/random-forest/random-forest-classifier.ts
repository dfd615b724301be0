import { growTree } from "./grow-tree.js";
import { majorityClass } from "./majority-class.js";
import { SeededRandom } from "./seeded-random.js";
import type { TreeNode } from "./tree-node.js";

export interface RandomForestOptions {
  /** Splits from the root to any leaf, at most (scikit-learn's `max_depth`); no limit by default. */
  maxDepth?: number;
  /** Trees in the forest (`n_estimators`); 100 by default. */
  nEstimators?: number;
  /** Features drawn at random at each split (`max_features`); `"sqrt"` (of the feature count) by default. */
  maxFeatures?: number | "sqrt";
  /** Seeds the bootstrap samples and feature draws: the same seed and data give the same forest. */
  seed?: number;
}

/**
 * A random-forest classifier in the manner of scikit-learn's `RandomForestClassifier`: each tree
 * grows on a bootstrap sample of the rows, choosing each split among a random subset of the
 * features by Gini impurity; the forest predicts by majority vote of its trees.
 *
 * It holds only plain fields and instances of the exported node classes, so a configured model can
 * be submitted to a job and a fitted one can come back. (Why not npm's `ml-random-forest`: its last
 * release is from 2022, Node loads it as CommonJS, its fitted trees hold instances of a class its
 * package does not export, so they could not cross, and its default out-of-bag step throws on
 * small forests.)
 *
 * @example
 * const model = new RandomForestClassifier({ maxDepth: 4, nEstimators: 50, seed: 1 });
 * model.fit(X, y);
 * console.log(model.score(Xtest, ytest));
 */
export class RandomForestClassifier {
  readonly maxDepth: number;
  readonly nEstimators: number;
  readonly maxFeatures: number | "sqrt";
  readonly seed: number;
  /** The distinct labels `fit` saw, ascending; the trees predict indices into it. Empty before `fit`. */
  classes: number[] = [];
  trees: TreeNode[] = [];

  constructor({ maxDepth = Infinity, nEstimators = 100, maxFeatures = "sqrt", seed = 0 }: RandomForestOptions = {}) {
    if (!(maxDepth >= 1)) throw new RangeError(`maxDepth must be at least 1, not ${maxDepth}`);
    if (!Number.isInteger(nEstimators) || nEstimators < 1) throw new RangeError(`nEstimators must be a positive integer, not ${nEstimators}`);
    if (maxFeatures !== "sqrt" && (!Number.isInteger(maxFeatures) || maxFeatures < 1)) {
      throw new RangeError(`maxFeatures must be "sqrt" or a positive integer, not ${maxFeatures}`);
    }
    this.maxDepth = maxDepth;
    this.nEstimators = nEstimators;
    this.maxFeatures = maxFeatures;
    this.seed = seed;
  }

  /** Fits the forest to the rows `X` (numbers) and their labels `y`, replacing any earlier fit. */
  fit(X: readonly (readonly number[])[], y: readonly number[]): this {
    if (X.length === 0) throw new RangeError("fit needs at least one row");
    if (X.length !== y.length) throw new RangeError(`fit got ${X.length} rows but ${y.length} labels`);
    const featureCount = X[0]!.length;
    this.classes = [...new Set(y)].sort((a, b) => a - b);
    const classIndex = new Map(this.classes.map((label, index) => [label, index]));
    const yIndex = y.map((label) => classIndex.get(label)!);
    const limits = {
      maxDepth: this.maxDepth,
      maxFeatures: Math.min(featureCount, this.maxFeatures === "sqrt" ? Math.max(1, Math.floor(Math.sqrt(featureCount))) : this.maxFeatures),
      classCount: this.classes.length,
    };
    const random = new SeededRandom(this.seed);
    this.trees = [];
    for (let t = 0; t < this.nEstimators; t++) {
      const bootstrap = Array.from({ length: X.length }, () => random.below(X.length));
      this.trees.push(growTree(X, yIndex, bootstrap, limits, random));
    }
    return this;
  }

  /** The label most trees vote for, for each row. */
  predict(X: readonly (readonly number[])[]): number[] {
    if (this.trees.length === 0) throw new Error("predict needs a fitted forest: call fit first");
    return X.map((row) => this.classes[majorityClass(this.trees.map((tree) => tree.predict(row)), this.classes.length)]!);
  }

  /** The share of rows whose label `predict` gets right (mean accuracy, as scikit-learn's `score`). */
  score(X: readonly (readonly number[])[], y: readonly number[]): number {
    if (X.length !== y.length) throw new RangeError(`score got ${X.length} rows but ${y.length} labels`);
    const predicted = this.predict(X);
    return predicted.filter((label, i) => label === y[i]).length / y.length;
  }

  /** Leaves per tree, on average. */
  meanLeafCount(): number {
    return this.trees.reduce((sum, tree) => sum + tree.leafCount(), 0) / this.trees.length;
  }

  /** The depth of the deepest tree. */
  depthReached(): number {
    return Math.max(...this.trees.map((tree) => tree.depth()));
  }
}
