/**
 * Why an attempt ended without a result, as the run and the job's log tell it (`retryNote`, the
 * `jobRetrying` message): the failure's code and the first line of its message, at most
 * {@link MAX_RETRY_REASON_CHARS} characters.
 */
export interface RetryReason {
  code: string;
  message: string;
}

/** The longest message a {@link RetryReason} keeps. */
export const MAX_RETRY_REASON_CHARS = 500;

/** The reason for a failure with `code` and `message`: its first line, cut to {@link MAX_RETRY_REASON_CHARS}. */
export function retryReason(code: string, message: string): RetryReason {
  const line = message.split("\n")[0]!;
  return { code, message: line.length > MAX_RETRY_REASON_CHARS ? `${line.slice(0, MAX_RETRY_REASON_CHARS - 1)}…` : line };
}
