import { readAllocationRecords } from "../cluster/slurm/allocation-records.js";
import { allocationWords } from "../cluster/slurm/allocation-words.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { JOB_STATES, MalocherError, isJobId } from "@malocher/protocol";
import { jobExists } from "./store-access.js";
import { sameOrigin, type Credential } from "./dashboard-auth.js";
import { rowJson, type DashboardState } from "./dashboard-state.js";
import { sendJson, sendJsonText } from "./http-reply.js";
import { readJobDetail } from "./job-detail.js";
import type { JobRow } from "./job-index.js";
import { inFailureGroup } from "./overview.js";

export interface ApiContext {
  state: DashboardState;
  readOnly: boolean;
  credential: Credential;
}

const STATES = new Set<string>([...JOB_STATES, "unqueued"]);
const JOB_QUERY_PARAMS = new Set(["state", "name", "tag", "host", "q", "limit", "cursor", "token"]);
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;
const MAX_TEXT_PARAM = 200;
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_BULK_IDS = 100_000;
const LOG_TAIL_BYTES = 256 * 1024;
/** The task stream's first load: at most this many bars (about 60 bytes each). */
const MAX_STREAM_BARS = 1500;

/** A request the API refuses, with its status and a message (never a crash). */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Serves `/api/…`; every error becomes a JSON `{ error: { code, message } }` with its status. */
export async function handleApi(request: IncomingMessage, response: ServerResponse, url: URL, context: ApiContext): Promise<void> {
  try {
    await route(request, response, url, context);
  } catch (error) {
    if (response.headersSent) {
      response.destroy();
      return;
    }
    if (error instanceof ApiError) sendJson(response, error.status, { error: { code: error.code, message: error.message } });
    else if (error instanceof MalocherError) {
      const status = error.code === "JOB_NOT_FOUND" ? 404 : error.code === "INVALID_OPTIONS" ? 400 : 500;
      sendJson(response, status, { error: { code: error.code, message: error.message } });
    } else sendJson(response, 500, { error: { code: "INTERNAL", message: (error as Error).message } });
  }
}

async function route(request: IncomingMessage, response: ServerResponse, url: URL, context: ApiContext): Promise<void> {
  const { state } = context;
  const parts = url.pathname.split("/").slice(2); // "", "api", …
  const method = request.method ?? "GET";
  if (method === "POST") return action(request, response, parts, context);
  if (method !== "GET") throw new ApiError(405, "METHOD_NOT_ALLOWED", `${method} is not allowed on ${url.pathname}; reads are GET, actions POST.`);
  const [first, id, sub, extra] = parts;
  if (parts.length === 1 && first === "status") {
    await state.settled();
    // The same object as `malocher status --json`: the counts, and the Slurm allocations of live supervisors.
    return sendJson(response, 200, { ...state.status, allocations: await readAllocationRecords(state.actions.dir) });
  }
  if (parts.length === 1 && first === "overview") {
    if (state.overview === undefined) await state.settled();
    // The overview as it was encoded for the events, with what this answer adds in front (not encoded again).
    const extra = JSON.stringify({ readOnly: context.readOnly, live: state.servesRun, eventId: state.feed.lastId });
    return sendJsonText(response, 200, `${extra.slice(0, -1)},${state.overviewText.slice(1)}`);
  }
  if (parts.length === 1 && first === "nodes") return sendJson(response, 200, { nodes: state.nodes, eventId: state.feed.lastId });
  // The nodes page asks every few seconds: the records only, none of the directory's counts.
  if (parts.length === 1 && first === "allocations") {
    // With each its state in the words `malocher status` uses (the page shows them as they are).
    const now = Date.now();
    const allocations = (await readAllocationRecords(state.actions.dir)).map((record) => ({ ...record, words: allocationWords(record, now) }));
    return sendJson(response, 200, { allocations });
  }
  if (parts.length === 1 && first === "stream") return sendJson(response, 200, taskStream(state, url));
  if (parts.length === 1 && first === "events") {
    const since = request.headers["last-event-id"] ?? url.searchParams.get("since") ?? undefined;
    const sinceId = since === undefined || since === "" ? undefined : Number(since);
    if (sinceId !== undefined && !Number.isSafeInteger(sinceId)) throw new ApiError(400, "BAD_PARAMETER", `since must be an event id (a whole number), got ${JSON.stringify(since)}.`);
    state.feed.attach(response, sinceId);
    return;
  }
  if (first === "jobs" && parts.length === 1) return sendJson(response, 200, listJobs(state, url));
  if (first === "jobs" && id !== undefined && extra === undefined) {
    if (!isJobId(id)) throw new ApiError(400, "BAD_JOB_ID", `${JSON.stringify(decodeURIComponent(id).slice(0, 100))} is not a job id.`);
    if (sub === undefined) return sendJson(response, 200, await readJobDetail(state.actions.dir, id, state.links));
    if (sub === "logs") return url.searchParams.get("follow") === "1" ? followLogs(request, response, state, id) : sendJson(response, 200, tail(await state.actions.logs(id)));
  }
  throw new ApiError(404, "NOT_FOUND", `No API ${url.pathname}.`);
}

async function action(request: IncomingMessage, response: ServerResponse, parts: string[], context: ApiContext): Promise<void> {
  if (context.readOnly) throw new ApiError(403, "READ_ONLY", "This dashboard is read-only (--read-only): it cannot cancel or retry.");
  if (!sameOrigin(request, context.credential)) throw new ApiError(403, "BAD_ORIGIN", "Actions must come from the dashboard's own page (Origin), or send Authorization: Bearer <token>.");
  const { state } = context;
  const body = await readJsonBody(request);
  const [first, id, verb, extra] = parts;
  let outcome: unknown;
  if (first === "jobs" && id !== undefined && (verb === "cancel" || verb === "retry") && extra === undefined) {
    if (!isJobId(id)) throw new ApiError(400, "BAD_JOB_ID", `${JSON.stringify(decodeURIComponent(id).slice(0, 100))} is not a job id.`);
    const outcomes: Record<string, string> = verb === "cancel" ? await state.actions.cancel([id]) : await state.actions.retry([id]);
    if (outcomes[id] === "unknown") throw new ApiError(404, "JOB_NOT_FOUND", `No job ${id} in ${state.actions.dir}.`);
    outcome = { jobId: id, outcome: outcomes[id] };
  } else if (parts.length === 1 && (first === "cancel" || first === "retry")) {
    const ids = jobIdsOf(body);
    const outcomes: Record<string, string> = first === "cancel" ? await state.actions.cancel(ids) : await state.actions.retry(ids);
    outcome = { outcomes };
  } else if (parts.length === 1 && first === "retry-failed") {
    // From the index: the failed jobs (of one group, given its code and message), without reading every result again.
    const group = body as { code?: unknown; message?: unknown } | undefined;
    if (group !== undefined && (typeof group !== "object" || group === null)) throw new ApiError(400, "BAD_BODY", "The body is {} or { code, message } of one failure group.");
    const code = group?.code;
    const message = group?.message;
    if ((code !== undefined && typeof code !== "string") || (message !== undefined && typeof message !== "string") || (code === undefined) !== (message === undefined)) {
      throw new ApiError(400, "BAD_BODY", "Give both code and message of a failure group (strings), or neither for every failed job.");
    }
    await state.settled();
    const ids: string[] = [];
    for (const row of state.index.all()) {
      if (row.state !== "failed") continue;
      if (code !== undefined && !inFailureGroup(row, code, message as string)) continue;
      ids.push(row.id);
    }
    const outcomes = ids.length === 0 ? {} : await state.actions.retry(ids);
    const having = (wanted: string) => Object.entries(outcomes).filter(([, what]) => what === wanted).map(([jobId]) => jobId);
    outcome = { requeued: having("requeued"), dependencyFailed: having("dependencyFailed") };
  } else throw new ApiError(404, "NOT_FOUND", `No action /api/${parts.join("/")}.`);
  state.index.relistSoon();
  state.soon();
  sendJson(response, 200, outcome);
}

function jobIdsOf(body: unknown): string[] {
  const ids = (body as { jobIds?: unknown } | undefined)?.jobIds;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_BULK_IDS) throw new ApiError(400, "BAD_BODY", `The body is { "jobIds": [ … ] }, 1 to ${MAX_BULK_IDS} job ids.`);
  for (const id of ids) if (typeof id !== "string" || !isJobId(id)) throw new ApiError(400, "BAD_JOB_ID", `${JSON.stringify(id)} is not a job id.`);
  return ids as string[];
}

async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, "BODY_TOO_LARGE", `A request body is at most ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "BAD_BODY", "The body is not JSON.");
  }
}

/** `GET /api/jobs`: one page of the jobs that match, newest first, and how many match in all. */
function listJobs(state: DashboardState, url: URL): unknown {
  const params = url.searchParams;
  for (const name of params.keys()) if (!JOB_QUERY_PARAMS.has(name)) throw new ApiError(400, "BAD_PARAMETER", `Unknown parameter ${JSON.stringify(name)}; the jobs list takes ${[...JOB_QUERY_PARAMS].filter((p) => p !== "token").join(", ")}.`);
  const text = (name: string) => {
    const value = params.get(name) ?? "";
    if (value.length > MAX_TEXT_PARAM) throw new ApiError(400, "BAD_PARAMETER", `${name} is at most ${MAX_TEXT_PARAM} characters.`);
    return value;
  };
  const stateParam = text("state");
  const states = stateParam === "" ? undefined : new Set(stateParam.split(","));
  for (const one of states ?? []) if (!STATES.has(one)) throw new ApiError(400, "BAD_PARAMETER", `state must be one of ${[...STATES].join(", ")} (or several, comma-separated), got ${JSON.stringify(one)}.`);
  const limitText = text("limit");
  const limit = limitText === "" ? DEFAULT_LIMIT : Number(limitText);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new ApiError(400, "BAD_PARAMETER", `limit must be a whole number from 1 to ${MAX_LIMIT}, got ${JSON.stringify(limitText)}.`);
  const cursor = text("cursor");
  if (cursor !== "" && !isJobId(cursor)) throw new ApiError(400, "BAD_PARAMETER", `cursor must be a job id (the "next" of the previous page), got ${JSON.stringify(cursor)}.`);
  const name = text("name");
  const tag = text("tag");
  const host = text("host");
  const q = text("q").toLowerCase();
  const keep = (row: JobRow) =>
    (states === undefined || states.has(row.state ?? "unqueued")) &&
    (name === "" || row.name === name) &&
    (tag === "" || (row.tags?.includes(tag) ?? false)) &&
    (host === "" || row.host === host) &&
    (q === "" || matches(row, q));
  const unfiltered = states === undefined && name === "" && tag === "" && host === "" && q === "";
  const page = state.index.page(unfiltered ? undefined : keep, limit, cursor === "" ? undefined : cursor);
  return { jobs: page.rows.map(rowJson), total: page.total, next: page.next ?? null, indexing: state.index.indexing, eventId: state.feed.lastId };
}

function matches(row: JobRow, q: string): boolean {
  return (
    row.id.includes(q) ||
    (row.name?.toLowerCase().includes(q) ?? false) ||
    (row.tags?.some((tag) => tag.toLowerCase().includes(q)) ?? false) ||
    (row.error !== undefined && (row.error.code.toLowerCase().includes(q) || row.error.message.toLowerCase().includes(q)))
  );
}

/**
 * `GET /api/stream?minutes=`: the bars of the task stream (finished and running jobs of the last
 * minutes), each `[id, host, start, end | null, state, slot | null]`: the slot is the worker slot
 * the live cluster said the job ran in (null when the dashboard did not see it start).
 */
function taskStream(state: DashboardState, url: URL): unknown {
  const minutesText = url.searchParams.get("minutes") ?? "5";
  const minutes = Number(minutesText);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 60) throw new ApiError(400, "BAD_PARAMETER", `minutes must be a number from 0 to 60, got ${JSON.stringify(minutesText)}.`);
  const now = Date.now();
  const since = now - minutes * 60_000;
  const bars: Array<[string, string, number, number | null, string, number | null]> = [];
  for (const row of state.index.all()) {
    if (row.host === undefined) continue;
    if (row.finishedAt !== undefined && row.finishedAt >= since) bars.push([row.id, row.host, row.finishedAt - (row.durationMs ?? 0), row.finishedAt, row.state ?? "", row.slot ?? null]);
    else if (row.state === "running") bars.push([row.id, row.host, row.runningSince ?? now, null, "running", row.slot ?? null]);
  }
  // The newest ones when there are too many to draw; times as ms after `since` (a smaller answer).
  bars.sort((a, b) => a[2] - b[2]);
  return {
    now,
    since,
    bars: bars.slice(-MAX_STREAM_BARS).map(([id, host, start, end, state, slot]) => [id, host, Math.max(0, Math.round(start - since)), end === null ? null : Math.round(end - since), state, slot]),
  };
}

function tail(logs: { stdout: string; stderr: string }): unknown {
  const cut = (text: string) => (text.length > LOG_TAIL_BYTES ? { text: text.slice(-LOG_TAIL_BYTES), cut: text.length - LOG_TAIL_BYTES } : { text, cut: 0 });
  return { stdout: cut(logs.stdout), stderr: cut(logs.stderr) };
}

/** `GET /api/jobs/<id>/logs?follow=1`: the job's output as server-sent events as it is written, then `finished`. */
async function followLogs(request: IncomingMessage, response: ServerResponse, state: DashboardState, jobId: string): Promise<void> {
  if (!(await jobExists(state.actions.dir, jobId))) throw new ApiError(404, "JOB_NOT_FOUND", `No job ${jobId} in ${state.actions.dir}.`);
  const stop = new AbortController();
  const iterator = state.actions.followLogs(jobId, { pollMs: 250, signal: stop.signal })[Symbol.asyncIterator]();
  response.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store" });
  request.on("close", () => stop.abort());
  response.on("close", () => stop.abort());
  response.write("retry: 3600000\n\n");
  let id = 0;
  let next = await iterator.next();
  while (!next.done && !stop.signal.aborted) {
    const event = next.value;
    if (event.type === "output") response.write(`id: ${++id}\nevent: output\ndata: ${JSON.stringify({ stream: event.stream, text: event.data.toString("utf8") })}\n\n`);
    else response.write(`id: ${++id}\nevent: finished\ndata: ${JSON.stringify({ ok: event.result.ok })}\n\n`);
    next = await iterator.next();
  }
  response.end();
}
