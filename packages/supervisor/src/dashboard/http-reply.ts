import type { ServerResponse } from "node:http";

/** Answers with `body` as JSON, never cached. */
export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  sendJsonText(response, status, JSON.stringify(body));
}

/** Answers with `text`, JSON already encoded. */
export function sendJsonText(response: ServerResponse, status: number, text: string): void {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

