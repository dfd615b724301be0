import ssh2 from "ssh2";
import type { ParsedKey } from "ssh2";
import { MalocherError } from "@malocher/protocol";
import { askSecretOnTerminal } from "./terminal-secret.js";

const { utils } = ssh2;

/** Tries at the prompt before giving up, as `ssh` (NumberOfPasswordPrompts 3). */
const PROMPT_TRIES = 3;

/**
 * The outcome of the prompt for each key in this process, by file: each key is asked for once per
 * process (a run of the CLI). Giving up (Ctrl-C, or three wrong passphrases) is kept too, so the
 * other machines of the run fail with the same error instead of asking again, whenever they get
 * to the key.
 */
const decrypted = new Map<string, Promise<ParsedKey | undefined>>();
/** Prompts one at a time: the machines of a run connect at once, and may share a key. */
let prompts: Promise<unknown> = Promise.resolve();

/**
 * Decrypts an encrypted private key with a passphrase typed on the terminal (echo off), asking
 * again after a wrong one, like `ssh`. Resolves undefined when there is no terminal to ask on.
 * Rejects with `SSH_KEY_UNREADABLE` when the user gives up, for this call and every later one.
 * The passphrase is used once to decrypt the key and then dropped.
 */
export function decryptKeyAtPrompt(file: string, key: Buffer): Promise<ParsedKey | undefined> {
  let outcome = decrypted.get(file);
  if (outcome === undefined) {
    outcome = prompts.then(() => askUntilDecrypted(file, key));
    decrypted.set(file, outcome);
    prompts = outcome.catch(() => {});
  }
  return outcome;
}

async function askUntilDecrypted(file: string, key: Buffer): Promise<ParsedKey | undefined> {
  for (let attempt = 1; attempt <= PROMPT_TRIES; attempt++) {
    const prompt = attempt === 1 ? `Enter passphrase for key '${file}': ` : "Bad passphrase, try again: ";
    let passphrase: string | undefined;
    try {
      passphrase = await askSecretOnTerminal(prompt);
    } catch (error) {
      throw new MalocherError("SSH_KEY_UNREADABLE", `The passphrase prompt for the private key ${file} was ${(error as Error).message}.`);
    }
    if (passphrase === undefined) return undefined;
    const parsed = utils.parseKey(key, passphrase);
    if (!(parsed instanceof Error)) return parsed;
  }
  throw new MalocherError(
    "SSH_KEY_UNREADABLE",
    `${PROMPT_TRIES} wrong passphrases for the private key ${file}: check it, or load the key into ssh-agent (ssh-add ${file}).`,
  );
}
