/**
 * Which node may run which job: a job may ask for a label (`on`) and for more than one slot; a
 * node carries labels and has a number of slots (hosts file: `8/alice@gpu1:2222 gpu fast`).
 */
import type { JobPlacement } from "./job-spec.js";

/** What a node offers. */
export interface NodeCapacity {
  slots: number;
  labels: readonly string[];
}

const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Whether `value` can be a label: letters, digits, `.`, `_` and `-`, not starting with punctuation. */
export function isLabel(value: string): boolean {
  return LABEL.test(value);
}

/** How many slots a job takes (1 unless it asked for more). */
export function slotsOf(options: JobPlacement): number {
  return options.slots ?? 1;
}

/** Whether a job asks for more than any one slot of any node: a label, or several slots. */
export function asksForPlacement(options: JobPlacement): boolean {
  return options.on !== undefined || slotsOf(options) > 1;
}

/** Why a node cannot run a job, in words for the user, or undefined when it can. */
export function placementMisfit(options: JobPlacement, node: NodeCapacity): string | undefined {
  if (options.on !== undefined && !node.labels.includes(options.on)) {
    const has = node.labels.length === 0 ? "no labels" : `labels ${node.labels.join(", ")}`;
    return `it asks for label "${options.on}" and the node has ${has}`;
  }
  const slots = slotsOf(options);
  if (slots > node.slots) return `it asks for ${slots} slots and the node has ${node.slots}`;
  return undefined;
}
