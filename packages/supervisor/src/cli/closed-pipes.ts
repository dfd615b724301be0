/**
 * `malocher results | head -5`: once the reader has gone, writing to the pipe fails with EPIPE,
 * which Node raises as an unhandled 'error' event on the stream. A Unix tool ends quietly then
 * (its SIGPIPE does that), so this does the same: the command stops at once, with the status a
 * SIGPIPE would give (128 + 13), printing nothing. Agents a `run` started see their SSH session
 * end and put their jobs back in the queue, as after any other ending of the supervisor.
 */
const SIGPIPE_STATUS = 141;

export function endQuietlyOnClosedPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EPIPE") process.exit(SIGPIPE_STATUS);
      throw error;
    });
  }
}
