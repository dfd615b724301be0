import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

const COOKIE = "malocher_dashboard";

/** How a request proved it knows the token, if it did. */
export type Credential = "query" | "cookie" | "bearer" | undefined;

/** A fresh URL-safe token (base64url, 192 bits). */
export function newDashboardToken(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * The dashboard's token check: the query parameter on the first visit (answered with a cookie),
 * then the cookie, or `Authorization: Bearer` for scripts. Compared in constant time (on hashes,
 * so that the lengths match too).
 */
export class DashboardAuth {
  private readonly digest: Buffer;

  constructor(token: string) {
    if (!/^[A-Za-z0-9_-]{16,}$/.test(token)) throw new TypeError("a dashboard token is at least 16 URL-safe characters (A-Z a-z 0-9 _ -)");
    this.digest = hash(token);
  }

  /** How `request` (whose URL is `url`) carries the token; undefined when it does not. */
  check(request: IncomingMessage, url: URL): Credential {
    const header = request.headers.authorization;
    if (header !== undefined && /^Bearer /i.test(header) && this.matches(header.slice(7).trim())) return "bearer";
    const query = url.searchParams.get("token");
    if (query !== null && this.matches(query)) return "query";
    const cookie = cookieValue(request.headers.cookie, COOKIE);
    if (cookie !== undefined && this.matches(cookie)) return "cookie";
    return undefined;
  }

  /** The cookie that stands for the token after the first visit. */
  cookie(token: string): string {
    return `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
  }

  private matches(candidate: string): boolean {
    return timingSafeEqual(hash(candidate), this.digest);
  }
}

function hash(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * Whether a POST may act: a browser's (cookie) request must come from the dashboard's own page,
 * by its `Origin` (or `Sec-Fetch-Site`), so another site cannot make the browser cancel jobs;
 * a script with the bearer token sends no cookie and needs no origin.
 */
export function sameOrigin(request: IncomingMessage, credential: Credential): boolean {
  if (credential === "bearer") return true;
  const origin = request.headers.origin;
  const host = request.headers.host;
  if (origin !== undefined) return host !== undefined && origin === `http://${host}`;
  return request.headers["sec-fetch-site"] === "same-origin";
}
