/** The nodes of a fitted decision tree: plain fields only, so a fitted tree can cross to a node and back. */

/** A leaf: predicts the class that most of its training rows had. */
export class Leaf {
  constructor(
    /** Index into the forest's `classes`. */
    readonly classIndex: number,
  ) {}

  predict(_row: readonly number[]): number {
    return this.classIndex;
  }

  leafCount(): number {
    return 1;
  }

  /** Splits on the way from this node to its deepest leaf. */
  depth(): number {
    return 0;
  }
}

/** An inner node: rows with `row[feature] <= threshold` go left, the others right. */
export class Split {
  constructor(
    readonly feature: number,
    readonly threshold: number,
    readonly left: TreeNode,
    readonly right: TreeNode,
  ) {}

  predict(row: readonly number[]): number {
    return (row[this.feature]! <= this.threshold ? this.left : this.right).predict(row);
  }

  leafCount(): number {
    return this.left.leafCount() + this.right.leafCount();
  }

  depth(): number {
    return 1 + Math.max(this.left.depth(), this.right.depth());
  }
}

export type TreeNode = Leaf | Split;
