import { EventEmitter } from "node:events";
import { closeSync, openSync, writeSync } from "node:fs";
import { ReadStream } from "node:tty";

/**
 * Says when a prompt holds the terminal (`open`) and when it gave it back (`close`), so that a
 * live view drawn on the same terminal steps aside meanwhile.
 */
export const terminalPrompts = new EventEmitter<{ open: []; close: [] }>();

/** Whether this process was started from a terminal that someone can type a passphrase into. */
export function onTerminal(): boolean {
  return process.stdin.isTTY === true || process.stderr.isTTY === true;
}

/**
 * Asks for a secret on the controlling terminal (`/dev/tty`, as `ssh` does) with echo off, and
 * resolves with what was typed up to Enter; undefined when there is no terminal (or Ctrl-D on an
 * empty line). Ctrl-C rejects. The secret is never echoed or kept; the terminal mode is restored.
 */
export function askSecretOnTerminal(prompt: string): Promise<string | undefined> {
  if (!onTerminal()) return Promise.resolve(undefined);
  let inFd: number;
  try {
    inFd = openSync("/dev/tty", "r");
  } catch {
    return Promise.resolve(undefined); // no controlling terminal after all
  }
  const outFd = openSync("/dev/tty", "w");
  const input = new ReadStream(inFd);
  input.setEncoding("utf8"); // a character typed across two reads stays whole
  terminalPrompts.emit("open");
  // Echo off before the prompt shows: what is typed as soon as it does is not echoed either.
  input.setRawMode(true); // no echo, and keys come one by one (Ctrl-C included)
  writeSync(outFd, prompt);
  return new Promise<string | undefined>((resolve, reject) => {
    let typed = "";
    let ended = false;
    const end = (outcome: () => void) => {
      if (ended) return;
      ended = true;
      input.off("data", onData);
      if (!input.destroyed) input.setRawMode(false);
      input.destroy(); // closes inFd
      writeSync(outFd, "\n"); // the terminal ends the line (ONLCR) now that it is back in its mode
      closeSync(outFd);
      terminalPrompts.emit("close");
      outcome();
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === "\r" || char === "\n") return end(() => resolve(typed));
        if (char === "\x03") return end(() => reject(new Error("interrupted (Ctrl-C)")));
        if (char === "\x04" && typed === "") return end(() => resolve(undefined));
        if (char === "\x7f" || char === "\b") typed = typed.slice(0, -1);
        else if (char === "\x15") typed = ""; // Ctrl-U
        else if (char >= " ") typed += char;
      }
    };
    input.on("data", onData);
    input.once("end", () => end(() => resolve(undefined))); // the terminal went away
  });
}
