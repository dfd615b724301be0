import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { MalocherError } from "@malocher/protocol";
import type { DashboardActions } from "./dashboard-actions.js";
import { DashboardAuth, newDashboardToken, type Credential } from "./dashboard-auth.js";
import type { Dashboard, DashboardOptions } from "./dashboard-options.js";
import { handleApi, type ApiContext } from "./api-routes.js";
import { pageFile } from "./static-files.js";
import { DashboardState, type LiveCluster } from "./dashboard-state.js";
import { sendJson } from "./http-reply.js";
import { warningsTo } from "../cluster-options.js";

const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/**
 * Starts the dashboard of the directory `actions` act on: an HTTP server on 127.0.0.1 (by default) with
 * the page, the JSON API and the event stream; with `live`, also that cluster's nodes.
 */
export async function startDashboardServer(actions: DashboardActions, options: DashboardOptions = {}, live?: LiveCluster): Promise<Dashboard> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new MalocherError("INVALID_OPTIONS", `The dashboard's port must be 0 to 65535, got ${port}.`);
  const token = options.token ?? newDashboardToken();
  let auth: DashboardAuth;
  try {
    auth = new DashboardAuth(token);
  } catch (error) {
    throw new MalocherError("INVALID_OPTIONS", (error as Error).message);
  }
  const warn = warningsTo(options);
  if (!isLoopback(host)) {
    warn(`the dashboard listens on ${host}: anyone who can reach it and learns the token can see and cancel jobs. Prefer 127.0.0.1 and \`ssh -L\`.`);
  }
  const state = new DashboardState(actions, live);
  const server = createServer((request, response) => {
    serve(request, response, auth, token, state, options.readOnly === true).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, { error: { code: "INTERNAL", message: (error as Error).message } });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new MalocherError(
          "INVALID_OPTIONS",
          `The dashboard cannot listen on ${host}:${port}: ${error.code ?? error.message}. ${error.code === "EADDRNOTAVAIL" ? `${host} is no address of this machine: pick another --host (127.0.0.1 by default).` : "Pick another --port."}`,
          { cause: error },
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const actualPort = (server.address() as AddressInfo).port;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  const url = `http://${shownHost}:${actualPort}/?token=${token}`;
  state.start();
  (options.onListening ?? ((address: string) => process.stderr.write(`malocher: dashboard at ${address}\n`)))(url);
  let closing: Promise<void> | undefined;
  return {
    url,
    host,
    port: actualPort,
    token,
    close: () =>
      (closing ??= (async () => {
        state.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })()),
  };
}

async function serve(request: IncomingMessage, response: ServerResponse, auth: DashboardAuth, token: string, state: DashboardState, readOnly: boolean): Promise<void> {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
  const url = new URL(request.url ?? "/", "http://dashboard.invalid");
  const credential: Credential = auth.check(request, url);
  if (credential === undefined) {
    const isPage = !url.pathname.startsWith("/api/");
    response.writeHead(401, { "content-type": isPage ? "text/html; charset=utf-8" : "application/json", "www-authenticate": 'Bearer realm="malocher"', "cache-control": "no-store" });
    response.end(
      isPage
        ? "<!doctype html><title>Malocher: token needed</title><p>This dashboard needs its token: open the address <code>malocher dashboard</code> printed (it ends in <code>?token=…</code>).</p>"
        : JSON.stringify({ error: { code: "UNAUTHORIZED", message: "Send the dashboard's token: Authorization: Bearer <token>." } }),
    );
    return;
  }
  if (credential === "query" && request.method === "GET" && !url.pathname.startsWith("/api/")) {
    // The token leaves the address bar (and the history) at once; the cookie stands for it from now on.
    url.searchParams.delete("token");
    response.writeHead(303, { "set-cookie": auth.cookie(token), location: `${url.pathname}${url.search}`, "cache-control": "no-store" });
    response.end();
    return;
  }
  if (url.pathname.startsWith("/api/")) {
    const context: ApiContext = { state, readOnly, credential };
    await handleApi(request, response, url, context);
    return;
  }
  if (request.method !== "GET" && request.method !== "HEAD") {
    sendJson(response, 405, { error: { code: "METHOD_NOT_ALLOWED", message: `${request.method} is not allowed here.` } });
    return;
  }
  const name = url.pathname === "/" ? "index.html" : url.pathname.startsWith("/assets/") ? url.pathname.slice("/assets/".length) : "";
  const file = await pageFile(name);
  if (file === undefined) {
    sendJson(response, 404, { error: { code: "NOT_FOUND", message: `No page ${url.pathname}.` } });
    return;
  }
  response.writeHead(200, { "content-type": file.type, "cache-control": "no-cache", "content-length": file.body.length });
  response.end(request.method === "HEAD" ? undefined : file.body);
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

