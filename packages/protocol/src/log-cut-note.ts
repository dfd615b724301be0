/** How the note starts that stands where an attempt's log was cut (readers following a log look for it). */
export const CUT_NOTE_PREFIX = "[... ";

/** The line that starts an attempt's log once it was cut to its tail. */
export function cutNote(cutBytes: number, maxBytes: number): string {
  return `${CUT_NOTE_PREFIX}${cutBytes} bytes cut: the job wrote more than maxLogBytes (${maxBytes}); the last ${maxBytes} bytes follow ...]\n`;
}
