import type { MachineView, RunEvent } from "../cluster/cluster.js";
import type { DashboardActions } from "./dashboard-actions.js";
import { EventFeed } from "./event-feed.js";
import { JobIndex, type IndexChange, type JobRow } from "./job-index.js";
import { summarize, type Overview } from "./overview.js";
import { nodeViews, type NodeView } from "./node-views.js";
import type { DirectoryStatus } from "./store-access.js";
import { CostBudget } from "./cost-budget.js";
import { DependentsListing } from "./dependents-listing.js";
import type { JobLinks } from "./job-detail.js";

/** The live cluster a dashboard shows, when it runs inside `processAll` or `startCluster`. */
export interface LiveCluster {
  machineViews(): MachineView[];
  on(name: "event", listener: (event: RunEvent) => void): unknown;
  off(name: "event", listener: (event: RunEvent) => void): unknown;
}

/** The index is refreshed this often, and soon after a live cluster's event or an action. */
const REFRESH_MS = 1000;
const SOON_MS = 100;
/**
 * At most this often while events keep coming (a busy run reports thousands of jobs a second):
 * a change is on the page within a second, and the refreshes' cost stays flat.
 */
const MIN_GAP_MS = 800;
/** The overview's sums over every row may take this share of a core (100,000 rows: ~10–30 ms a sum). */
const SUMMARY_SHARE = 0.01;
const DECAY_MS = 5000;
/** A change of more jobs than this is sent as "refetch", not row by row. */
const MAX_ROWS_PER_EVENT = 500;

/** The index, its summaries and the event feed of one dashboard. */
export class DashboardState {
  readonly index: JobIndex;
  /** What a job's page reads of other jobs: their rows, and the jobs that depend on it. */
  readonly links: JobLinks;
  readonly feed = new EventFeed();
  overview: Overview | undefined;
  /** The overview as JSON, encoded once per sum (the API's answers and the events reuse it). */
  overviewText = "";
  status: DirectoryStatus | undefined;
  nodes: NodeView[] = [];
  private nodesText = "";
  /** Whether a run serves this dashboard (`processAll`, `startCluster`), not a directory alone. */
  get servesRun(): boolean {
    return this.live !== undefined;
  }
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Infinity;
  private lastTickAt = 0;
  private readonly summaries = new CostBudget(SUMMARY_SHARE);
  /** Rows changed since the last sum. */
  private summaryStale = true;
  private summedAt = 0;
  /** The last refresh whose changes were published (concurrent ticks share one refresh). */
  private published: IndexChange | undefined;
  private closed = false;
  private readonly onEvent = (event: RunEvent) => {
    if (event.type === "jobFinished") this.index.noteFinished(event.jobId, event);
    else if (event.type === "jobStarted") this.index.noteStarted(event.jobId, event.attempt, event.slot);
    else if (event.type === "jobRetrying" || event.type === "dependentsQueued") this.index.waitingChanged();
    else if (event.type === "dependentsFailed") {
      // Their results were published with the failure that ended them: read them.
      for (const jobId of event.failed) this.index.noteFinished(jobId, { ok: false, host: event.host, durationMs: 0 });
      this.index.waitingChanged();
    }
    this.soon();
  };

  constructor(
    readonly actions: DashboardActions,
    private readonly live: LiveCluster | undefined,
  ) {
    this.index = new JobIndex(actions.dir, live === undefined ? undefined : () => new Map(live.machineViews().map((machine) => [machine.agentId, machine.label])));
    const dependents = new DependentsListing(actions.dir);
    this.links = {
      rowOf: (jobId) => this.index.row(jobId),
      isGone: (jobId) => this.index.indexing === 0 && this.index.row(jobId) === undefined,
      dependentsOf: (jobId) => dependents.of(jobId),
    };
  }

  start(): void {
    this.live?.on("event", this.onEvent);
    this.schedule(0);
  }

  /** Refresh soon (an action or an event changed something), but not sooner than MIN_GAP_MS after the last refresh. */
  soon(): void {
    // Already due as soon as allowed (a busy run's second and later events until the refresh: no clock read).
    if (this.dueAt <= this.lastTickAt + MIN_GAP_MS) return;
    this.schedule(Math.max(SOON_MS, this.lastTickAt + MIN_GAP_MS - Date.now()));
  }

  /** Refreshes until every job is read in; the overview and status are then complete (summed now, whatever the budget). */
  async settled(): Promise<void> {
    do await this.tick(false);
    while (this.index.indexing > 0 && !this.closed);
    if ((this.summaryStale || this.status === undefined) && this.summarize()) this.feed.publishJson("overview", this.overviewText);
  }

  close(): void {
    this.closed = true;
    this.live?.off("event", this.onEvent);
    clearTimeout(this.timer);
    this.feed.close();
  }

  /** Sums the index again; returns whether the overview changed. */
  private summarize(): boolean {
    const started = performance.now();
    const { overview, status } = summarize(this.index);
    this.status = status;
    this.overview = overview;
    this.summaryStale = false;
    this.summedAt = Date.now();
    const text = JSON.stringify(overview);
    this.summaries.book(started);
    if (text === this.overviewText) return false;
    this.overviewText = text;
    return true;
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    const at = Date.now() + delayMs;
    if (at >= this.dueAt) return;
    clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => {
      this.dueAt = Infinity;
      void this.tick(true);
    }, delayMs);
  }

  private async tick(reschedule: boolean): Promise<void> {
    this.lastTickAt = Date.now();
    try {
      const change = await this.index.refresh();
      if (this.closed || change === this.published) return;
      this.published = change;
      if (change.changed.length > 0 || change.removed.length > 0) {
        this.summaryStale = true;
        this.feed.publish(
          "jobs",
          change.changed.length + change.removed.length > MAX_ROWS_PER_EVENT
            ? { refetch: true, changed: change.changed.length, removed: change.removed.length }
            : { rows: change.changed.map(rowJson), removed: change.removed },
        );
      }
      // The throughput and its history move with time alone: summed again every few seconds while they show recent finishes.
      const recent = this.overview !== undefined && this.overview.finishedHistory.counts.some((count) => count > 0);
      if (recent && Date.now() - this.summedAt > DECAY_MS) this.summaryStale = true;
      if (((this.summaryStale && this.summaries.due()) || this.overview === undefined) && this.summarize()) this.feed.publishJson("overview", this.overviewText);
      this.nodes = nodeViews(this.index, this.status!, this.live?.machineViews() ?? []);
      const nodesText = JSON.stringify(this.nodes);
      if (nodesText !== this.nodesText) {
        this.nodesText = nodesText;
        this.feed.publishJson("nodes", nodesText);
      }
    } catch (error) {
      this.feed.publish("problem", { message: (error as Error).message });
    } finally {
      // While a big directory is read in, go on at once; then once a second.
      if (reschedule) this.schedule(this.index.indexing > 0 ? 0 : this.summaryStale ? Math.min(REFRESH_MS, Math.max(SOON_MS, this.summaries.wait())) : REFRESH_MS);
    }
  }
}

/** A row as the API and the events send it. */
export function rowJson(row: JobRow): Record<string, unknown> {
  return { ...row, state: row.state ?? null };
}

