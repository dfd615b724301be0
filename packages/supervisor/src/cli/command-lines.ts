/**
 * GNU parallel's way of writing many commands at once, for `malocher submit` and `malocher run`:
 * `python train.py --seed {} ::: 1 2 3` is three commands. Input sources are `::: a b` (the words
 * given), `:::: file` (each line of the file; several files are several sources) and their linked
 * forms `:::+` / `::::+`, which pair with the source before them by position instead of giving
 * every combination (the shortest of the linked sources sets the length, as in parallel). Sources
 * otherwise give every combination, the first varying slowest; without any, the arguments are
 * stdin's lines, and when stdin is a terminal, which has none, the command is one job as it is.
 *
 * Replacement strings, as in parallel: `{}` the argument (all of a combination's, joined by
 * spaces), `{.}` without its extension, `{/}` its base name, `{//}` its directory, `{/.}` the base
 * name without extension, `{#}` the job's sequence number (from 1), `{%}` the job slot that runs
 * it (kept in the command and replaced on the node: see `usesJobSlot`); `{n}`, `{n.}`, `{n/}`,
 * `{n//}`, `{n/.}` the same for the n-th source's argument. A command without any gets the
 * arguments appended. Something that looks like a replacement string but is none of these
 * (`{..}`, `{=perl=}`) is refused rather than passed through.
 */
import { readFileSync } from "node:fs";
import { MalocherError } from "@malocher/protocol";

/** The source separators: `:::` words, `::::` files, and the linked forms. */
const SEPARATORS = new Set([":::", "::::", ":::+", "::::+"]);
/** What looks like a replacement string of parallel's: `{}`, `{2/.}`, `{#}`, `{%}`, `{+.}`, `{=…=}`. */
const LOOKS_LIKE_REPLACEMENT = /\{(?:\d*[./#%+]*|=[^}]*=)\}/g;
/** The ones Malocher knows: an optional source number and one of the transforms. */
const KNOWN_REPLACEMENT = /^\{(\d*)(|\.|\/|\/\/|\/\.)\}$|^\{[#%]\}$/;
/** GNU parallel's job slot, which only the node knows. */
const JOB_SLOT = "{%}";

/** A parallel input source as written after a separator. */
interface Source {
  values: string[];
  /** `:::+` / `::::+`: paired with the source before it by position. */
  linked: boolean;
}

/**
 * The argv of every command that `words` (a template, then `::: a b` / `:::: file` sources) stand
 * for. `readStdinLines` is called only when there is no source (`undefined`: stdin is a terminal);
 * `readFileLines` for `::::` files.
 */
export function expandCommandLines(
  words: readonly string[],
  readStdinLines: () => string[] | undefined,
  readFileLines: (file: string) => string[] = (file) => linesOf(readArgumentFile(file)),
): string[][] {
  const first = words.findIndex((word) => SEPARATORS.has(word));
  const template = first < 0 ? [...words] : words.slice(0, first);
  if (template.length === 0) {
    throw new MalocherError("INVALID_COMMAND", "Name the command before the arguments, e.g. -- python train.py --seed {} ::: 1 2 3.");
  }
  checkReplacementStrings(template);
  let sources: Source[];
  if (first >= 0) sources = readSources(words.slice(first), readFileLines);
  else {
    const lines = readStdinLines();
    if (lines === undefined) return [commandWithoutArguments(template)];
    sources = [{ values: lines, linked: false }];
  }
  const tuples = argumentTuples(sources);
  return tuples.map((args, index) => fillTemplate(template, args, index + 1));
}

/** Whether the command of `words` uses `{%}`, the job slot, which the node replaces (`submitCommand`'s `replaceJobSlot`). */
export function usesJobSlot(words: readonly string[]): boolean {
  const first = words.findIndex((word) => SEPARATORS.has(word));
  return (first < 0 ? words : words.slice(0, first)).some((word) => word.includes(JOB_SLOT));
}

/**
 * The commands `words` stand for on the command line: `::: a b` groups, or else stdin's lines;
 * with `once` (`--once`), the command once, as it is, whatever stdin is.
 */
export function commandLines(words: readonly string[], once = false): string[][] {
  if (once) {
    if (words.some((word) => SEPARATORS.has(word))) throw new MalocherError("INVALID_COMMAND", "--once queues the command as it is: give it no ::: or :::: arguments.");
    return expandCommandLines(words, () => undefined);
  }
  return expandCommandLines(words, () => readLines(process.stdin, () => readFileSync(0, "utf8")));
}

/**
 * Stdin's lines (a last line without newline counts; `\r\n` ends a line too); `undefined` for a
 * terminal, which has no lines to give (reading it would wait for typing); refuses an empty stdin,
 * which would quietly make no job.
 */
export function readLines(stdin: { isTTY?: boolean }, read: () => string): string[] | undefined {
  if (stdin.isTTY) return undefined;
  const lines = linesOf(read());
  if (lines.length === 0) {
    throw new MalocherError(
      "INVALID_COMMAND",
      "No arguments: stdin was empty, so there would be no job. Give them after ::: (malocher submit -- echo {} ::: a b c) or pipe them in, one a line; " +
        "to queue the command once, as it is, give --once.",
    );
  }
  return lines;
}

/** The template as one command with no arguments (`--once`, or stdin a terminal), unless it asks for arguments. */
function commandWithoutArguments(template: readonly string[]): string[] {
  const asking = template.find((word) => (word.match(LOOKS_LIKE_REPLACEMENT) ?? []).some((text) => text !== "{#}" && text !== JOB_SLOT));
  if (asking !== undefined) {
    throw new MalocherError(
      "INVALID_COMMAND",
      `No arguments for ${JSON.stringify(asking)}: give them after ::: (malocher submit -- echo {} ::: a b c) or pipe them in, one a line.`,
    );
  }
  return fillTemplate(template, [], 1);
}

function linesOf(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

function readArgumentFile(file: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    throw new MalocherError("INVALID_COMMAND", `:::: ${file}: cannot read the argument file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`);
  }
}

/** The sources of `words` (which start with a separator). Each file after `::::` is a source of its own, as in parallel. */
function readSources(words: readonly string[], readFileLines: (file: string) => string[]): Source[] {
  const sources: Source[] = [];
  let separator = "";
  let after: string[] = [];
  const close = () => {
    const linked = separator.endsWith("+");
    if (after.length === 0) throw new MalocherError("INVALID_COMMAND", `Every ${separator} needs at least one ${separator.startsWith("::::") ? "file" : "argument"} after it, e.g. ::: 1 2 3 or :::: args.txt.`);
    if (linked && sources.length === 0) throw new MalocherError("INVALID_COMMAND", `${separator} links its arguments to the source before it, but there is none: start with ::: or ::::.`);
    if (separator.startsWith("::::")) after.forEach((file, i) => sources.push({ values: readFileLines(file), linked: linked && i === 0 }));
    else sources.push({ values: after, linked });
  };
  for (const word of words) {
    if (SEPARATORS.has(word)) {
      if (separator !== "") close();
      separator = word;
      after = [];
    } else after.push(word);
  }
  close();
  const empty = sources.find((source) => source.values.length === 0);
  if (empty !== undefined) throw new MalocherError("INVALID_COMMAND", "An argument file given after :::: is empty, so there would be no job.");
  return sources;
}

/**
 * One argument tuple per command: linked sources are zipped (the shortest sets the length),
 * then the groups they form give every combination, the first varying slowest (as parallel does).
 */
function argumentTuples(sources: readonly Source[]): string[][] {
  const groups: string[][][] = [];
  for (const source of sources) {
    const last = groups[groups.length - 1];
    if (source.linked && last !== undefined) {
      const length = Math.min(last.length, source.values.length);
      groups[groups.length - 1] = last.slice(0, length).map((tuple, i) => [...tuple, source.values[i]!]);
    } else groups.push(source.values.map((value) => [value]));
  }
  return groups.reduce<string[][]>((partial, group) => partial.flatMap((prefix) => group.map((tuple) => [...prefix, ...tuple])), [[]]);
}

function checkReplacementStrings(template: readonly string[]): void {
  for (const word of template) {
    for (const [text] of word.matchAll(LOOKS_LIKE_REPLACEMENT)) {
      if (KNOWN_REPLACEMENT.test(text)) continue;
      throw new MalocherError(
        "INVALID_COMMAND",
        `${text} in ${JSON.stringify(word)} looks like one of GNU parallel's replacement strings but is not one Malocher knows. ` +
          "Known: {} {.} {/} {//} {/.} {#} {%} and {n} {n.} {n/} {n//} {n/.} for the n-th source. To pass braces through, use sh -c with the text in a variable.",
      );
    }
  }
}

/** `value` transformed as parallel's `{.}`, `{/}`, `{//}`, `{/.}` do (`` leaves it as it is). */
function transform(value: string, how: string): string {
  const slash = value.lastIndexOf("/");
  const base = slash < 0 ? value : value.slice(slash + 1);
  const withoutExtension = (text: string) => {
    const cut = text.replace(/\.[^./]*$/, "");
    return cut === "" || cut.endsWith("/") ? text : cut; // ".bashrc" has no extension
  };
  switch (how) {
    case ".":
      return slash < 0 ? withoutExtension(value) : value.slice(0, slash + 1) + withoutExtension(base);
    case "/":
      return base;
    case "//":
      return slash < 0 ? "." : slash === 0 ? "/" : value.slice(0, slash);
    case "/.":
      return withoutExtension(base);
    default:
      return value;
  }
}

/**
 * Puts a tuple (the `sequence`-th) into the template. A word that is exactly `{}` (or `{.}` …)
 * becomes one word per argument; inside a word they become the arguments joined by spaces. `{n…}`
 * is the n-th source's argument, `{#}` the sequence number. Without any replacement string the
 * arguments are appended, as parallel does.
 */
function fillTemplate(template: readonly string[], args: readonly string[], sequence: number): string[] {
  const replacement = new RegExp(LOOKS_LIKE_REPLACEMENT.source, "g");
  if (!template.some((word) => new RegExp(LOOKS_LIKE_REPLACEMENT.source).test(word))) return [...template, ...args];
  return template.flatMap((word) => {
    const whole = /^\{(|\.|\/|\/\/|\/\.)\}$/.exec(word);
    if (whole !== null) return args.map((arg) => transform(arg, whole[1]!));
    return [
      word.replace(replacement, (text) => {
        if (text === "{#}") return String(sequence);
        if (text === JOB_SLOT) return JOB_SLOT; // replaced on the node
        const [, index, how] = KNOWN_REPLACEMENT.exec(text)!;
        if (index === "") return args.map((arg) => transform(arg, how!)).join(" ");
        const arg = args[Number(index) - 1];
        if (arg === undefined) {
          throw new MalocherError("INVALID_COMMAND", `${text} names input source ${index}, but there are ${args.length} (sources count from {1}).`);
        }
        return transform(arg, how!);
      }),
    ];
  });
}
