/**
 * GNU parallel's way of writing many commands at once, for `malocher submit` and `malocher run`:
 * `python train.py --seed {} ::: 1 2 3` is three commands. Several `:::` groups give every
 * combination (the first group varies slowest); without `:::` the arguments are stdin's lines.
 */
import { readFileSync } from "node:fs";
import { MalocherError } from "@malocher/protocol";

const GROUP_SEPARATOR = ":::";
/** `{}` (all of a combination's arguments) or `{n}` (the n-th group's). */
const PLACEHOLDER = /\{(\d*)\}/g;

/**
 * The argv of every command that `words` (a template, then `::: a b` groups) stand for.
 * `readStdinLines` is called only when there is no `:::` group.
 */
export function expandCommandLines(words: readonly string[], readStdinLines: () => string[]): string[][] {
  const unsupported = words.find((word) => /^:::[:+]/.test(word) || word === "::::");
  if (unsupported !== undefined) {
    throw new MalocherError("INVALID_COMMAND", `${unsupported} is not supported; give the arguments after ::: (or one a line on stdin).`);
  }
  const first = words.indexOf(GROUP_SEPARATOR);
  const template = first < 0 ? [...words] : words.slice(0, first);
  if (template.length === 0) {
    throw new MalocherError("INVALID_COMMAND", "Name the command before the arguments, e.g. -- python train.py --seed {} ::: 1 2 3.");
  }
  const groups = first < 0 ? [readStdinLines()] : splitGroups(words.slice(first + 1));
  return combinations(groups).map((combination) => fillTemplate(template, combination));
}

/** The commands `words` stand for on the command line: `::: a b` groups, or else stdin's lines. */
export function commandLines(words: readonly string[]): string[][] {
  return expandCommandLines(words, () => readLines(process.stdin, () => readFileSync(0, "utf8")));
}

/** Stdin's lines (a last line without newline counts; `\r\n` ends a line too); refuses a terminal, which would wait forever. */
export function readLines(stdin: { isTTY?: boolean }, read: () => string): string[] {
  if (stdin.isTTY) {
    throw new MalocherError(
      "INVALID_COMMAND",
      "No arguments: give them after ::: (malocher submit -- echo {} ::: a b c) or pipe them in, one a line.",
    );
  }
  const lines = read().split(/\r?\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

function splitGroups(words: readonly string[]): string[][] {
  const groups: string[][] = [[]];
  for (const word of words) {
    if (word === GROUP_SEPARATOR) groups.push([]);
    else groups[groups.length - 1]!.push(word);
  }
  if (groups.some((group) => group.length === 0)) {
    throw new MalocherError("INVALID_COMMAND", "Every ::: needs at least one argument after it, e.g. ::: 1 2 3.");
  }
  return groups;
}

/** Every combination of one argument per group, the first group varying slowest (as parallel does). */
function combinations(groups: readonly string[][]): string[][] {
  return groups.reduce<string[][]>((partial, group) => partial.flatMap((prefix) => group.map((arg) => [...prefix, arg])), [[]]);
}

/**
 * Puts a combination into the template: a word that is exactly `{}` becomes the arguments (one
 * word each), `{}` inside a word becomes them joined by spaces, `{n}` the n-th group's argument.
 * Without any placeholder the arguments are appended, as parallel does.
 */
function fillTemplate(template: readonly string[], args: readonly string[]): string[] {
  if (!template.some((word) => new RegExp(PLACEHOLDER.source).test(word))) return [...template, ...args];
  return template.flatMap((word) => {
    if (word === "{}") return [...args];
    return [
      word.replace(PLACEHOLDER, (_, index: string) => {
        if (index === "") return args.join(" ");
        const arg = args[Number(index) - 1];
        if (arg === undefined) {
          throw new MalocherError("INVALID_COMMAND", `{${index}} names argument group ${index}, but there are ${args.length} (::: groups count from {1}).`);
        }
        return arg;
      }),
    ];
  });
}
