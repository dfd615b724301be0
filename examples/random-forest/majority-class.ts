/**
 * The class index that occurs most often in `classIndices` (given as indices into `0..classCount-1`);
 * a tie goes to the lowest index, so the result never depends on the order of the input.
 */
export function majorityClass(classIndices: Iterable<number>, classCount: number): number {
  const counts = new Array<number>(classCount).fill(0);
  for (const classIndex of classIndices) counts[classIndex]!++;
  let best = 0;
  for (let c = 1; c < classCount; c++) if (counts[c]! > counts[best]!) best = c;
  return best;
}
