import { join } from "node:path";
import { chunkMemberOf, directoryLayout, isJobId, toJobResult, type JobState } from "@malocher/protocol";
import { decideJobState, finishedState, listClaims, listJobIds, listRetrying, readLeaseHost } from "./store-access.js";
import { breathe, readNameAndTags, readResultFile, SLICE_FILES } from "./quick-reads.js";
import { ShardWatch } from "./shard-watch.js";
import { CostBudget } from "./cost-budget.js";

/** One job as the dashboard lists it: small, so 100,000 of them fit in a few tens of MB. */
export interface JobRow {
  id: string;
  /** Undefined: its spec exists but it was never queued, or its result is not read yet. */
  state: JobState | undefined;
  name?: string;
  tags?: string[];
  /** Where it ran (its result's host) or runs (its agent's host). */
  host?: string;
  attempts?: number;
  durationMs?: number;
  finishedAt?: number;
  /** When this dashboard first saw it running (the start of its bar in the task stream). */
  runningSince?: number;
  /** The worker slot of its host it runs or ran in, 1 to the host's slots (the live cluster's report; the task stream's lane). */
  slot?: number;
  /** A failure's code and the first line of its message (the whole error is on the job's page). */
  error?: { code: string; message: string };
}

/**
 * A new row with every field there from the start (undefined until known), and fields cleared by
 * setting them undefined, never deleted: rows then share one shape, so the passes over 100,000 of
 * them (the overview's sums, filtered pages) stay fast; rows whose fields came and went in
 * different orders made those passes several times slower.
 */
function newRow(id: string): JobRow {
  return { id, state: undefined, name: undefined, tags: undefined, host: undefined, attempts: undefined, durationMs: undefined, finishedAt: undefined, runningSince: undefined, slot: undefined, error: undefined };
}

/** Results read per refresh (each one file read and a signature check), so a first look at 100,000 finished jobs does not stall the server. */
const RESULT_READS_PER_REFRESH = 4000;
/** Specs read per refresh for the names and tags of unfinished jobs. */
const SPEC_READS_PER_REFRESH = 2000;
/**
 * With a live cluster, while it has jobs to run (or reports starts and finishes), spec reads (one
 * file each for jobs submitted one by one, ~50 µs with its signature check) take at most this
 * share of the supervisor's core; once it is idle, as many as on a directory alone.
 */
const LIVE_SPEC_SHARE = 0.0025;
const MAX_MESSAGE_CHARS = 300;
const MAX_REPORTED = 50_000;
/**
 * The share of a core each listing of results/, queued/ and the markers may take on a directory
 * alone: with 100,000 results a listing is tens of ms, so it then runs every few seconds.
 */
const LISTING_SHARE = 0.02;
/**
 * With a live cluster, which reports every start and finish of its jobs, the directories are
 * listed only for what other processes do (and what the reports do not say): all of them together
 * within this share of the supervisor's core, at least LIVE_LISTING_GAP_MS apart while the run
 * reports changes and LIVE_IDLE_LISTING_MS apart while it does not; at once when new jobs appear
 * in specs/, a report asks for it, or the dashboard itself cancelled or retried.
 */
const LIVE_LISTING_SHARE = 0.005;
const LIVE_LISTING_GAP_MS = 3000;
const LIVE_IDLE_LISTING_MS = 15_000;
const NO_CHANGE = { added: [] as string[], removed: [] as string[] };
/** The id list (specs/) is read again at most this often while it keeps changing (a listing of 100,000 ids costs ~50 ms). */
const ID_LIST_MIN_INTERVAL_MS = 2000;

/** What a listing of a directory found since the last one. */
type Listed = { added: string[]; removed: string[] };

/** What one refresh changed. */
export interface IndexChange {
  /** Rows whose state or fields changed, or that are new. */
  changed: JobRow[];
  removed: string[];
}

/**
 * Every job of a directory with its state, kept up to date incrementally: a refresh lists only
 * the shard directories whose mtime changed, reads only new results, and asks the store to decide
 * each job's state (`decideJobState`). Memory is one small row per job and the names of the
 * shard directories; nothing grows with time or with requests.
 */
export class JobIndex {
  /** Every job, oldest first (ids sort by submission time), and its row at the same place in `ordered`. */
  private ids: string[] = [];
  private ordered: JobRow[] = [];
  private readonly rows = new Map<string, JobRow>();
  private readonly results: ShardWatch;
  private readonly queued: ShardWatch;
  private readonly cancelled: ShardWatch;
  private readonly specs: ShardWatch;
  /** Failed results a retry set aside (`retried/<shard>/<jobId>.<ms>`): a new one means the job's result was replaced. */
  private readonly retried: ShardWatch;
  /** Jobs whose result must be read again (the live cluster said they finished; a retry may have replaced their result). */
  private readonly recheck = new Set<string>();
  private idsListedAt = 0;
  private idsStale = true;
  /** Jobs with a result file whose result is not read yet. */
  private readonly unreadResults = new Set<string>();
  /**
   * Results of jobs that are not listed (yet): a job submitted and finished between two listings,
   * or one whose spec an interrupted `clean` removed. Read once their job is listed.
   */
  private readonly unlistedResults = new Set<string>();
  /** Unfinished jobs whose name and tags are not read yet. */
  private readonly unreadSpecs = new Set<string>();
  /** A `submitMany` batch shares its name and tags: one read per chunk. */
  private readonly chunkLabels = new Map<string, { name?: string; tags?: string[] }>();
  private readonly hostOfAgent = new Map<string, string>();
  private claimedBy = new Map<string, string>();
  /** Jobs waiting out a retry's backoff (`retrying/`, one small directory). */
  private retrying = new Set<string>();
  /** Jobs waiting for the jobs they depend on (`waiting/<shard>/<jobId>/`). */
  private readonly waiting: ShardWatch;
  private readonly strings = new Map<string, string>();
  /** Rows the live cluster's reports changed since the last refresh (published with its changes). */
  private readonly reportedRows = new Set<string>();
  private refreshing: Promise<IndexChange> | undefined;
  /** On a directory alone: each listing spaced by what it costs. */
  private readonly resultsListing = new CostBudget(LISTING_SHARE);
  private readonly queuedListing = new CostBudget(LISTING_SHARE);
  /** cancelled/ and retried/. */
  private readonly markerListing = new CostBudget(LISTING_SHARE);
  /** With a live cluster: every listing together; when it was last done, and whether the cluster reported anything since. */
  private readonly liveListing = new CostBudget(LIVE_LISTING_SHARE, LIVE_LISTING_GAP_MS);
  private liveListedAt = -Infinity;
  private reportedSinceListing = false;
  /** Whether the live cluster reported a start or a finish since the last refresh. */
  private reportedSinceRefresh = false;
  /** With a live cluster: the reads of specs for names and tags. */
  private readonly specReading = new CostBudget(LIVE_SPEC_SHARE);
  private lastRefresh = 0;
  /** The live cluster's agents' hosts, taken once per refresh. */
  private hostsNow = new Map<string, string>();
  /** What the next refresh lists whatever the budgets say: every directory, or waiting/ and retrying/. */
  private listingWanted: "all" | "waiting" | undefined;

  /**
   * `live`: the live cluster's agents' hosts (known without reading their leases); with it, the
   * cluster reports every start and finish, so the directories are listed only every few seconds
   * (for what other processes do), within LIVE_LISTING_SHARE of a core.
   */
  constructor(
    readonly dir: string,
    private readonly live?: () => Map<string, string>,
  ) {
    this.results = new ShardWatch(directoryLayout.resultsDir(dir));
    this.waiting = new ShardWatch(directoryLayout.waitingDir(dir));
    this.queued = new ShardWatch(directoryLayout.queuedDir(dir));
    this.cancelled = new ShardWatch(directoryLayout.cancelledDir(dir));
    this.specs = new ShardWatch(directoryLayout.specsDir(dir));
    this.retried = new ShardWatch(join(dir, "retried"), (name) => {
      const id = name.slice(0, name.lastIndexOf("."));
      return isJobId(id) ? name : undefined; // one entry per set-aside result
    });
  }

  /** Jobs still being read in (a first look at a big directory takes a few refreshes). */
  get indexing(): number {
    return this.unreadResults.size;
  }

  get size(): number {
    return this.ids.length;
  }

  /** When the last refresh finished (ms since the epoch). */
  get refreshedAt(): number {
    return this.lastRefresh;
  }

  row(jobId: string): JobRow | undefined {
    return this.rows.get(jobId);
  }

  /**
   * Rows newest first, from just after `cursor` (an id), that `keep` accepts (all without it);
   * counts all matches. Without a filter a page is a slice; with one, one pass over the rows.
   */
  page(keep: ((row: JobRow) => boolean) | undefined, limit: number, cursor: string | undefined): { rows: JobRow[]; total: number; next: string | undefined } {
    const start = cursor === undefined ? this.ids.length - 1 : lowerBound(this.ids, cursor) - 1;
    if (keep === undefined) {
      const rows: JobRow[] = [];
      for (let at = start; at >= 0 && rows.length < limit; at--) rows.push(this.ordered[at]!);
      const last = start - rows.length;
      return { rows, total: this.ids.length, next: last >= 0 ? rows[rows.length - 1]?.id : undefined };
    }
    const rows: JobRow[] = [];
    let total = 0;
    let next: string | undefined;
    for (let at = this.ordered.length - 1; at >= 0; at--) {
      const row = this.ordered[at]!;
      if (!keep(row)) continue;
      total++;
      if (at > start) continue;
      if (rows.length < limit) rows.push(row);
      else if (next === undefined) next = rows[rows.length - 1]!.id;
    }
    return { rows, total, next };
  }

  /** Every row (oldest first), for the overview's sums. */
  all(): readonly JobRow[] {
    return this.ordered;
  }

  /** Agent id → its running jobs. */
  claims(): Map<string, string[]> {
    const byAgent = new Map<string, string[]>();
    for (const [jobId, agentId] of this.claimedBy) {
      let list = byAgent.get(agentId);
      if (list === undefined) byAgent.set(agentId, (list = []));
      list.push(jobId);
    }
    return byAgent;
  }

  /** The next refresh lists every directory (the dashboard itself just cancelled or retried). */
  relistSoon(): void {
    this.listingWanted = "all";
    this.reportedSinceListing = true;
  }

  /**
   * The next refresh lists waiting/ and retrying/ (two small directories), and queued/ if jobs
   * left waiting/: the live cluster reported jobs queued or failed by a dependency, or a retry.
   */
  waitingChanged(): void {
    this.listingWanted ??= "waiting";
    this.reportedSinceListing = true;
  }

  /** The live cluster said this job started (its attempt, its worker slot, and the start of its bar in the task stream). */
  noteStarted(jobId: string, attempt: number, slot: number | undefined): void {
    const row = this.rows.get(jobId);
    if (row === undefined) return;
    this.reportedSinceListing = true;
    this.reportedSinceRefresh = true;
    row.attempts = attempt;
    row.runningSince = Date.now();
    row.slot = slot;
  }

  /**
   * The live cluster said this job finished. A success is indexed from the report at once (results
   * are write-once: its file says the same), without reading its file: most of a busy run's jobs,
   * one row update each. A failure's file is read at the next refresh, for its error.
   */
  noteFinished(jobId: string, report: { ok: boolean; host: string; durationMs: number }): void {
    this.reportedSinceListing = true;
    this.reportedSinceRefresh = true;
    const row = report.ok ? this.rows.get(jobId) : undefined;
    if (row === undefined) {
      if (this.recheck.size < MAX_REPORTED) this.recheck.add(jobId);
      return;
    }
    row.state = finishedState({ ok: true });
    row.host = this.intern(report.host);
    row.durationMs = report.durationMs;
    row.finishedAt = Date.now();
    row.error = undefined;
    this.unreadResults.delete(jobId);
    this.reportedRows.add(jobId);
  }

  /** Brings the index up to date; concurrent calls share one refresh. */
  refresh(): Promise<IndexChange> {
    this.refreshing ??= this.refreshOnce().finally(() => {
      this.refreshing = undefined;
      this.lastRefresh = Date.now();
    });
    return this.refreshing;
  }

  private async refreshOnce(): Promise<IndexChange> {
    const now = Date.now();
    this.hostsNow = this.live?.() ?? new Map();
    const touched = new Set<string>();
    const removed: string[] = [];
    // While submissions go on, the id list is read at most every ID_LIST_MIN_INTERVAL_MS (and
    // specs/ looked at no more often: a change seen sooner would wait for that anyway).
    if (now - this.idsListedAt >= ID_LIST_MIN_INTERVAL_MS && (this.idsStale || (await this.specs.changed()))) {
      this.idsStale = false;
      this.idsListedAt = now;
      const ids = await listJobIds(this.dir);
      const next = new Set(ids);
      for (const id of this.ids) {
        if (next.has(id)) continue;
        this.rows.delete(id);
        this.unreadResults.delete(id);
        this.unreadSpecs.delete(id);
        removed.push(id);
      }
      for (const id of ids) {
        if (this.rows.has(id)) continue;
        this.rows.set(id, newRow(id));
        this.unreadSpecs.add(id);
        touched.add(id);
        if (this.unlistedResults.delete(id)) this.unreadResults.add(id);
      }
      this.ids = ids;
      this.ordered = ids.map((id) => this.rows.get(id)!);
      // With a live cluster, whose listings wait for its reports: where new jobs' markers are is read now.
      if (this.live !== undefined && (touched.size > 0 || removed.length > 0)) this.listingWanted = "all";
    }
    const wanted = this.listingWanted;
    this.listingWanted = undefined;
    const [[results, queuedNow, [cancelled, retried], waiting, retryingNow], claims] = await Promise.all([this.listDirectories(wanted), listClaims(this.dir)]);
    let queued = queuedNow;
    // A retry queued jobs again, or jobs left waiting/: their queue markers are looked at now, even when the listing was not due.
    if ((retried.added.length > 0 || waiting.removed.length > 0) && queued === NO_CHANGE) queued = await this.queued.refresh();
    // A result set aside and a new one published between two refreshes leave the same name in
    // results/: the set-aside copy in retried/ (or the live cluster's report) says to read it again.
    for (const name of retried.added) this.recheck.add(name.slice(0, name.lastIndexOf(".")));
    for (const id of this.recheck) {
      if (!this.rows.has(id)) continue;
      this.unreadResults.add(id);
      touched.add(id);
    }
    for (const id of this.reportedRows) touched.add(id);
    this.reportedRows.clear();
    this.recheck.clear();
    const retrying = retryingNow === undefined ? this.retrying : new Set(retryingNow.keys());
    for (const jobId of retrying) if (!this.retrying.has(jobId)) touched.add(jobId);
    for (const jobId of this.retrying) if (!retrying.has(jobId)) touched.add(jobId);
    this.retrying = retrying;
    for (const id of [...waiting.added, ...waiting.removed]) touched.add(id);
    // A result already read (or reported by the live cluster) is not read again when the listing sees its file.
    for (const id of results.added) if (this.rows.get(id)?.finishedAt === undefined) this.unreadResults.add(id);
    for (const id of results.removed) {
      // A retry set the failed result aside: the job is queued again.
      this.unreadResults.delete(id);
      this.unlistedResults.delete(id);
      const row = this.rows.get(id);
      if (row === undefined) continue;
      // What the live cluster said about the new run (it may have started already) is kept.
      const startedAgain = row.runningSince !== undefined && row.finishedAt !== undefined && row.runningSince > row.finishedAt;
      if (!startedAgain) {
        row.attempts = undefined;
        row.runningSince = undefined;
        row.slot = undefined;
      }
      row.error = undefined;
      row.finishedAt = undefined;
      row.durationMs = undefined;
      touched.add(id);
    }
    for (const id of [...queued.added, ...queued.removed, ...cancelled.added, ...cancelled.removed]) touched.add(id);
    const claimedBy = new Map<string, string>();
    for (const [agentId, jobIds] of claims) for (const jobId of jobIds) claimedBy.set(jobId, agentId);
    for (const jobId of claimedBy.keys()) if (!this.claimedBy.has(jobId)) touched.add(jobId);
    for (const jobId of this.claimedBy.keys()) if (!claimedBy.has(jobId)) touched.add(jobId);
    this.claimedBy = claimedBy;
    for (const id of await this.readResults()) touched.add(id);
    for (const id of await this.readSpecs()) touched.add(id);

    const changed: JobRow[] = [];
    for (const id of touched) {
      const row = this.rows.get(id);
      if (row === undefined) continue;
      const before = row.state;
      const agentId = claimedBy.get(id);
      // A job without a (read) result: its markers decide.
      if (!this.unreadResults.has(id) && row.finishedAt === undefined) {
        row.state = decideJobState({
          result: undefined,
          cancelRequested: this.cancelled.has(id),
          claimed: agentId !== undefined,
          retrying: retrying.has(id),
          queued: this.queued.has(id),
          waiting: this.waiting.has(id),
        });
        if (row.state === "running" && agentId !== undefined) {
          row.host = this.hostsNow.get(agentId) ?? this.hostOfAgent.get(agentId) ?? (await this.agentHost(agentId));
          row.runningSince ??= now;
        } else if (row.state === "queued" || row.state === "retrying" || row.state === "waiting") {
          row.host = undefined;
          row.runningSince = undefined;
          row.slot = undefined;
        }
      }
      if (row.state !== before || touched.has(id)) changed.push(row);
    }
    return { changed, removed };
  }

  /**
   * Lists the directories that are due: on a directory alone, waiting/ and retrying/ every time
   * and the others as their budgets allow; with a live cluster all of them together, as its budget
   * allows (retrying undefined: not listed). `wanted`: these now, whatever the budgets say.
   */
  private async listDirectories(wanted: "all" | "waiting" | undefined): Promise<[Listed, Listed, [Listed, Listed], Listed, Map<string, number> | undefined]> {
    const all = wanted === "all";
    if (this.live !== undefined) {
      const now = performance.now();
      const due = this.liveListing.due(now) && (this.reportedSinceListing || now - this.liveListedAt >= LIVE_IDLE_LISTING_MS);
      if (all || due) {
        this.liveListedAt = now;
        this.reportedSinceListing = false;
        return this.liveListing.spend(() =>
          Promise.all([this.results.refresh(), this.queued.refresh(), Promise.all([this.cancelled.refresh(), this.retried.refresh()]), this.waiting.refresh(), listRetrying(this.dir)]),
        );
      }
      if (wanted === "waiting") return [NO_CHANGE, NO_CHANGE, [NO_CHANGE, NO_CHANGE], await this.waiting.refresh(), await listRetrying(this.dir)];
      return [NO_CHANGE, NO_CHANGE, [NO_CHANGE, NO_CHANGE], NO_CHANGE, undefined];
    }
    const list = (budget: CostBudget, watch: ShardWatch) => (budget.due() || all ? budget.spend(() => watch.refresh()) : NO_CHANGE);
    return Promise.all([
      list(this.resultsListing, this.results),
      list(this.queuedListing, this.queued),
      this.markerListing.due() || all ? this.markerListing.spend(() => Promise.all([this.cancelled.refresh(), this.retried.refresh()])) : [NO_CHANGE, NO_CHANGE],
      this.waiting.refresh(),
      listRetrying(this.dir),
    ]);
  }

  /** Reads up to a refresh's share of new results; returns the ids read. */
  private async readResults(): Promise<string[]> {
    const read: string[] = [];
    const batch: string[] = [];
    for (const id of take(this.unreadResults, RESULT_READS_PER_REFRESH)) {
      if (this.rows.has(id)) {
        batch.push(id);
        continue;
      }
      this.unreadResults.delete(id);
      if (this.unlistedResults.size < MAX_REPORTED) this.unlistedResults.add(id);
      this.idsStale = true; // listed again (at most every ID_LIST_MIN_INTERVAL_MS)
    }
    for (const [at, id] of batch.entries()) {
      if (at > 0 && at % SLICE_FILES === 0) await breathe();
      const row = this.rows.get(id)!;
      this.unreadResults.delete(id);
      this.unreadSpecs.delete(id);
      read.push(id);
      try {
        const stored = await readResultFile(this.dir, id);
        if (stored === undefined) {
          // Set aside by a retry: the job's markers decide its state again.
          row.finishedAt = undefined;
          row.durationMs = undefined;
          row.error = undefined;
          row.state = undefined;
          continue;
        }
        row.state = decideJobState({ result: stored, cancelRequested: false, claimed: false, retrying: false, queued: false, waiting: false });
        row.host = this.intern(stored.host);
        row.attempts = stored.attempts;
        row.durationMs = stored.durationMs;
        row.finishedAt = stored.finishedAt;
        if (stored.name !== undefined) row.name = this.intern(stored.name);
        if (stored.tags !== undefined) row.tags = stored.tags.map((tag) => this.intern(tag));
        if (stored.ok) row.error = undefined;
        else {
          // As `results` shows it: the thrown error's own code when it had one (decoded without importing its class).
          const result = await toJobResult(stored);
          const error = result.ok ? stored.error : result.error;
          row.error = { code: this.intern(error.code ?? error.name), message: this.intern(messageLine(error.message)) };
        }
      } catch (error) {
        row.state = "failed";
        row.finishedAt = Date.now();
        row.error = { code: "RESULT_UNREADABLE", message: messageLine((error as Error).message) };
      }
    }
    return read;
  }

  /**
   * Reads the names and tags of jobs whose result was not read (unfinished ones, and successes the
   * live cluster reported) from their specs; returns the ids read. While a live cluster reports
   * starts and finishes, a slice at a time within its budget.
   */
  private async readSpecs(): Promise<string[]> {
    const busy = this.reportedSinceRefresh || this.claimedBy.size > 0 || this.queued.size > 0;
    this.reportedSinceRefresh = false;
    if (this.unreadSpecs.size === 0) return [];
    if (this.live === undefined || !busy) return this.readSomeSpecs(SPEC_READS_PER_REFRESH);
    if (!this.specReading.due()) return [];
    return this.specReading.spend(() => this.readSomeSpecs(SLICE_FILES));
  }

  private async readSomeSpecs(limit: number): Promise<string[]> {
    const read: string[] = [];
    let reads = 0;
    for (const id of this.unreadSpecs) {
      if (reads >= limit) break;
      this.unreadSpecs.delete(id);
      const row = this.rows.get(id);
      if (row === undefined) continue;
      const chunk = chunkMemberOf(id)?.chunkName;
      let labels = chunk === undefined ? undefined : this.chunkLabels.get(chunk);
      if (labels === undefined) {
        if (++reads % SLICE_FILES === 0) await breathe();
        labels = await readNameAndTags(this.dir, id);
        if (chunk !== undefined) this.chunkLabels.set(chunk, labels);
      }
      if (labels.name === undefined && labels.tags === undefined) continue;
      if (labels.name !== undefined) row.name = this.intern(labels.name);
      if (labels.tags !== undefined) row.tags = labels.tags.map((tag) => this.intern(tag));
      read.push(id);
    }
    if (this.unreadSpecs.size === 0) this.chunkLabels.clear();
    return read;
  }

  private async agentHost(agentId: string): Promise<string> {
    const live = this.hostsNow.get(agentId);
    if (live !== undefined) return live;
    let host = this.hostOfAgent.get(agentId);
    if (host === undefined) {
      host = this.intern(await readLeaseHost(this.dir, agentId));
      if (this.hostOfAgent.size > 1000) this.hostOfAgent.clear();
      this.hostOfAgent.set(agentId, host);
    }
    return host;
  }

  /** One copy of each host, name, tag and error message, however many jobs share it. */
  private intern(text: string): string {
    const known = this.strings.get(text);
    if (known !== undefined) return known;
    if (this.strings.size > 50_000) this.strings.clear();
    this.strings.set(text, text);
    return text;
  }
}

/**
 * A failure's message on one line: its first, and when that introduces what follows (a failed
 * command's "…; its stderr ends with:"), the last line of that too, which says what went wrong.
 */
function messageLine(message: string): string {
  const end = message.indexOf("\n");
  let line = end < 0 ? message : message.slice(0, end);
  if (end >= 0 && line.trimEnd().endsWith(":")) {
    const last = message.slice(end + 1).trimEnd().split("\n").at(-1)?.trim() ?? "";
    if (last !== "") line = `${line.trimEnd()} ${last}`;
  }
  return line.length > MAX_MESSAGE_CHARS ? `${line.slice(0, MAX_MESSAGE_CHARS)}…` : line;
}

function* take<T>(set: Set<T>, count: number): Iterable<T> {
  if (count <= 0) return;
  for (const item of set) {
    yield item;
    if (--count <= 0) return;
  }
}

/** The first index whose id is ≥ `id`. */
function lowerBound(ids: readonly string[], id: string): number {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (ids[mid]! < id) low = mid + 1;
    else high = mid;
  }
  return low;
}
