import type { ServerResponse } from "node:http";

/** Events kept for browsers that reconnect (`Last-Event-ID`); older ones get a `reset`. */
const KEPT_EVENTS = 1000;
/** A browser that stops reading is dropped once this much waits for it. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
const KEEP_ALIVE_MS = 15_000;

interface SentEvent {
  id: number;
  text: string;
}

/**
 * Server-sent events with ids: every event is numbered, the last KEPT_EVENTS are kept, and a
 * browser that comes back with `Last-Event-ID` (or `?since=`) gets what it missed, or a `reset`
 * telling it to fetch everything again when it missed more than is kept.
 */
export class EventFeed {
  private seq = 0;
  private readonly kept: SentEvent[] = [];
  private readonly clients = new Set<ServerResponse>();
  private readonly keepAlive: NodeJS.Timeout;

  constructor() {
    this.keepAlive = setInterval(() => {
      for (const client of this.clients) this.write(client, ": keep-alive\n\n");
    }, KEEP_ALIVE_MS);
    this.keepAlive.unref();
  }

  /** The id of the last event sent (a page that fetched state at this id asks for events after it). */
  get lastId(): number {
    return this.seq;
  }

  get listeners(): number {
    return this.clients.size;
  }

  publish(event: string, data: unknown): void {
    this.publishJson(event, JSON.stringify(data));
  }

  /** {@link publish} of data already encoded (`json`: one line of JSON). */
  publishJson(event: string, json: string): void {
    const id = ++this.seq;
    const text = `id: ${id}\nevent: ${event}\ndata: ${json}\n\n`;
    this.kept.push({ id, text });
    if (this.kept.length > KEPT_EVENTS) this.kept.shift();
    for (const client of this.clients) this.write(client, text);
  }

  /** Starts an event stream on `response`, first with the events after `since`. */
  attach(response: ServerResponse, since: number | undefined): void {
    response.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no" });
    response.write("retry: 1000\n\n");
    this.clients.add(response);
    response.on("close", () => this.clients.delete(response));
    if (since === undefined) return;
    const oldest = this.kept[0]?.id ?? this.seq + 1;
    if (since > this.seq || since < oldest - 1) {
      this.write(response, `id: ${this.seq}\nevent: reset\ndata: {}\n\n`);
      return;
    }
    for (const event of this.kept) if (event.id > since) this.write(response, event.text);
  }

  close(): void {
    clearInterval(this.keepAlive);
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  private write(client: ServerResponse, text: string): void {
    if (client.writableLength > MAX_BUFFERED_BYTES) {
      this.clients.delete(client);
      client.destroy();
      return;
    }
    client.write(text);
  }
}
