import { inspect } from "node:util";

const REDACTED = "[secret]";

/**
 * A value that must not be stored in clear text, such as an API token for a job's environment.
 * It prints as `[secret]` everywhere (logs, JSON, `console.log`); only the job sees the value.
 */
export class SecretValue {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The value itself; Malocher calls this only to seal it into the job spec. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/**
 * Marks a value as secret: in `submit.with({ env: { API_TOKEN: secret(token) } })` it is stored
 * encrypted with the directory's key (AES-256-GCM) and decrypted only into the job's environment.
 *
 * @example
 * ```ts
 * submit.with({ env: { API_TOKEN: secret(process.env.API_TOKEN!) } })(fetchData, url);
 * ```
 */
export function secret(value: string): SecretValue {
  if (typeof value !== "string") throw new TypeError("secret() takes a string");
  return new SecretValue(value);
}
