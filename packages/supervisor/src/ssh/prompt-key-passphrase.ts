import ssh2 from "ssh2";
import type { ParsedKey } from "ssh2";
import { MalocherError } from "@malocher/protocol";
import { askSecretOnTerminal } from "./terminal-secret.js";

const { utils } = ssh2;

/** Tries at the prompt before giving up, as `ssh` (NumberOfPasswordPrompts 3). */
const PROMPT_TRIES = 3;

/**
 * The keys decrypted at a prompt in this process, by file: each is asked for once per process (a
 * run of the CLI), and machines that reach a key while its prompt is open wait for that prompt.
 * A prompt given up on is forgotten here, so that a later run of a long-lived process (a second
 * `processAll`, a notebook's next cluster) asks again; its run keeps it (see {@link KeysGivenUp}).
 */
const decrypted = new Map<string, Promise<ParsedKey | undefined>>();
/** Prompts one at a time: the machines of a run connect at once, and may share a key. */
let prompts: Promise<unknown> = Promise.resolve();

/**
 * The keys whose prompt the user gave up on during one run, by file, with the error they failed
 * with: the run's other machines fail with it at once, whenever they reach the key, instead of
 * asking again (a machine may reach it after the prompt ended, or reconnect later in the run).
 */
export type KeysGivenUp = Map<string, MalocherError>;

/**
 * Decrypts an encrypted private key with a passphrase typed on the terminal (echo off), asking
 * again after a wrong one, like `ssh`. Resolves undefined when there is no terminal to ask on.
 * The passphrase is used once to decrypt the key and then dropped. Rejects with
 * `SSH_KEY_UNREADABLE` when the user gives up (Ctrl-C, three wrong passphrases), which `givenUp`,
 * the run's record, then keeps for the key.
 */
export function decryptKeyAtPrompt(file: string, key: Buffer, givenUp: KeysGivenUp): Promise<ParsedKey | undefined> {
  const refusal = givenUp.get(file);
  if (refusal !== undefined) return Promise.reject(refusal);
  let outcome = decrypted.get(file);
  if (outcome === undefined) {
    outcome = prompts.then(() => askUntilDecrypted(file, key));
    decrypted.set(file, outcome);
    outcome.catch(() => decrypted.delete(file));
    prompts = outcome.catch(() => {});
  }
  return outcome.catch((error: MalocherError) => {
    givenUp.set(file, error);
    throw error;
  });
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
