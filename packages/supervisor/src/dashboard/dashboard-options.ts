import { MalocherError, shownValue } from "@malocher/protocol";
import { DASHBOARD_OPTION_NAMES, rejectUnknownNames } from "../option-names.js";

/**
 * Options of the dashboard (`malocher dashboard`, `processAll({ dashboard })`,
 * `startCluster({ dashboard })`, `new Malocher().dashboard()`).
 *
 * @example
 * ```ts
 * for await (const [jobId, result] of processAll({ dashboard: { port: 8470 } })) { … }
 * ```
 */
export interface DashboardOptions {
  /** The port to listen on; default 0: a free port (the printed address says which). */
  port?: number;
  /**
   * The address to listen on; default `127.0.0.1`, so only this machine reaches it (use `ssh -L`
   * from yours). Any other address is warned about: the token is then all that guards the jobs.
   */
  host?: string;
  /** No actions: the page and the API only read (cancel and retry answer 403). */
  readOnly?: boolean;
  /** The token (at least 16 characters of A-Z a-z 0-9 _ -); default a fresh random one. */
  token?: string;
  /** Called with the address (token included) once it listens; default: one line on stderr. */
  onListening?: (url: string) => void;
  /** Where warnings go (default: stderr). */
  onWarning?: (warning: string) => void;
}

/** A running dashboard. */
export interface Dashboard {
  /** `http://<host>:<port>/?token=<token>`: open it in a browser. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly token: string;
  /** Stops the server and ends every open page's event stream. Idempotent. */
  close(): Promise<void>;
}

/** `dashboard: true | { … }` of `processAll` and `startCluster` (`where`), as options (undefined: none), checked. */
export function dashboardOptionsOf(value: boolean | DashboardOptions | undefined, where: string): DashboardOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new MalocherError("INVALID_OPTIONS", `${where}({ dashboard }) is true or the dashboard's options ({ port, host, readOnly, … }), got ${shownValue(value)}.`);
  }
  checkDashboardOptions(value, where, "dashboard.");
  return value;
}

/**
 * Refuses options of a dashboard that it does not know (a misspelt `readonly` served a dashboard
 * that could cancel and retry) or of the wrong type. `where`: whose options, and `prefix` before
 * their names, for the message (`processAll`, `dashboard.`).
 */
export function checkDashboardOptions(options: DashboardOptions, where: string, prefix = ""): void {
  rejectUnknownNames(options, DASHBOARD_OPTION_NAMES, where, prefix);
  if (options.readOnly !== undefined && typeof options.readOnly !== "boolean") {
    throw new MalocherError("INVALID_OPTIONS", `${where}: ${prefix}readOnly is true or false, got ${shownValue(options.readOnly)}.`);
  }
}
