// The dashboard in a real headless Chromium (Debian's `chromium`, driven by puppeteer-core, which
// downloads no browser), on a started local cluster: the page refuses a visit without the token
// and loads with it; counts change on screen as jobs finish; a failed job's code, message and
// stack show; Cancel kills a running job and Retry runs a failed one again; logs tail live.
// Screenshots go to test/output/dashboard/.
import { strict as assert } from "node:assert";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import type { Malocher, StartedCluster } from "malocher";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { failUnlessFixed, runLong, talkUntilGate, waitForGate } from "./fixtures/dashboard/dashboard-jobs.js";
import { root } from "./fixtures/jobs/support.js";
import { freshMalocher } from "./support/temp.js";
import { waitUntil } from "./support/wait.js";

const CHROMIUM = "/usr/bin/chromium";
const SHOTS = join(root, "test/output/dashboard");
const WAIT = { timeout: 30_000 };

async function launch(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
    defaultViewport: { width: 1280, height: 900 },
  });
}

async function textOf(page: Page, selector: string): Promise<string> {
  return page.$eval(selector, (element) => element.textContent ?? "");
}

/** Waits until the element's text satisfies `check` (text of an element in the page, polled by the page). */
async function waitForText(page: Page, selector: string, pattern: RegExp): Promise<void> {
  await page.waitForFunction(
    (sel: string, source: string, flags: string) => new RegExp(source, flags).test((globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null } }).document.querySelector(sel)?.textContent ?? ""),
    { ...WAIT, polling: 100 },
    selector,
    pattern.source,
    pattern.flags,
  );
}

test("the dashboard in Chromium: token, live counts, a failure's stack, cancel, retry and a live log tail", { skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (apt-get install chromium)`, timeout: 110_000 }, async (t) => {
  mkdirSync(SHOTS, { recursive: true });
  const malocher = freshMalocher(t, "dashboard-browser");
  const gate = join(malocher.dir, "gate");
  const talkGate = join(malocher.dir, "talk-gate");
  const fixed = join(malocher.dir, "fixed");
  // Two jobs that fail now; the other five are submitted once the page shows the failures.
  const failing = [1, 2].map((x) => malocher.submit.with({ name: "quota", tags: ["sweep"] })(failUnlessFixed, fixed, x));
  const later = () => ({
    long: malocher.submit.with({ name: "long" })(runLong, 120_000),
    talker: malocher.submit.with({ name: "talker" })(talkUntilGate, talkGate),
    gated: [1, 2, 3].map((x) => malocher.submit.with({ name: "gated", tags: ["sweep"] })(waitForGate, gate, x)),
  });

  const cluster = await malocher.startCluster({ slots: 5, dashboard: { onListening: () => {} } });
  t.after(() => cluster.close());
  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage();
  page.on("console", (message) => t.diagnostic(`page console: ${message.text()}`));
  try {
    await exercise(t, page, malocher, cluster, { gate, talkGate, fixed, failing, later });
  } catch (error) {
    // What the page showed when something went wrong.
    await page.screenshot({ path: join(SHOTS, "failure.png"), fullPage: true }).catch(() => {});
    for (const jobId of await malocher.unfinishedJobs()) t.diagnostic(`${jobId}: ${await malocher.state(jobId)}`);
    throw error;
  }
});

test("a job's page in Chromium links the jobs it runs after and before, with their states as they change", { skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM} (apt-get install chromium)`, timeout: 60_000 }, async (t) => {
  const malocher = freshMalocher(t, "dashboard-browser-links");
  const gate = join(malocher.dir, "gate");
  const first = malocher.submit(waitForGate, gate, 1);
  const second = malocher.submit.with({ after: [first] })(waitForGate, gate, 2);
  const cluster = await malocher.startCluster({ slots: 1, dashboard: { onListening: () => {} } });
  t.after(() => cluster.close());
  const browser = await launch();
  t.after(() => browser.close());
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  const base = cluster.dashboard!.url.replace(/\?token=.*/, "");
  await page.goto(cluster.dashboard!.url);
  await page.goto(`${base}#/job/${second}`);
  await waitForText(page, "#job-after", new RegExp(`${first}.*running`));
  await page.click(`#job-after a[href="#/job/${first}"]`);
  await waitForText(page, "#job-dependents", new RegExp(`${second}.*waiting`));
  await waitForText(page, "#job-state", /running/);
  // A change of the dependent alone shows on this page too.
  await malocher.cancel(second);
  await waitForText(page, "#job-dependents", new RegExp(`${second}.*cancelled`));
  writeFileSync(gate, "");
  await waitForText(page, "#job-state", /succeeded/);
  // The nodes page of a run needs no note; of a directory alone, it says where its rows come from.
  const hidden = () => page.$eval("#nodes-note", (note) => (note as unknown as { hidden: boolean }).hidden);
  await page.goto(`${base}#/nodes`);
  await waitForText(page, "#nodes-body", /local.*ready/s);
  assert.equal(await hidden(), true, "a run's nodes say it all");
  const alone = await malocher.dashboard({ onListening: () => {} });
  t.after(() => alone.close());
  await page.goto(alone.url);
  await page.goto(`${alone.url.replace(/\?token=.*/, "")}#/nodes`);
  await waitForText(page, "#nodes-body", /local/);
  assert.equal(await hidden(), false, "without a run, the note says what the rows are");
  // The Slurm allocations of the supervisors running on the directory, from their records (as a Slurm run writes them every 2 s; a stale one is a dead supervisor's).
  const record = (id: string, seenAt: number) => JSON.stringify({ id, state: "pending", nodes: 2, reason: "Resources", seenAt });
  mkdirSync(join(malocher.dir, "slurm"), { mode: 0o700 });
  writeFileSync(join(malocher.dir, "slurm", "slurm-0badcafe-1.allocation"), record("4241", Date.now() - 120_000));
  writeFileSync(join(malocher.dir, "slurm", "slurm-0c0ffee0-1.allocation"), record("4242", Date.now()));
  await waitForText(page, "#allocations-body", /4242\s*pending \(Resources\)\s*2/);
  assert.doesNotMatch(await textOf(page, "#allocations-body"), /4241/, "not a dead supervisor's");
  // A running one says its time left, in the words of `malocher status`.
  writeFileSync(join(malocher.dir, "slurm", "slurm-0c0ffee0-2.allocation"), JSON.stringify({ id: "4243", state: "running", nodes: 1, endsAt: Date.now() + 20 * 60_000, seenAt: Date.now() }));
  await waitForText(page, "#allocations-body", /4243\s*running, (19|20) min left\s*1/);
  assert.deepEqual(pageErrors, [], "no errors in the page");
});

interface Jobs {
  gate: string;
  talkGate: string;
  fixed: string;
  failing: string[];
  later: () => { long: string; talker: string; gated: string[] };
}

async function exercise(t: TestContext, page: Page, malocher: Malocher, cluster: StartedCluster, jobs: Jobs): Promise<void> {
  const { gate, talkGate, fixed, failing } = jobs;
  const dashboard = cluster.dashboard!;
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));

  // Without the token: refused.
  const refused = await page.goto(`http://127.0.0.1:${dashboard.port}/`);
  assert.equal(refused?.status(), 401);
  assert.match(await page.content(), /needs its token/);

  // With it: the overview; the address bar loses the token (a cookie stands for it).
  await page.goto(dashboard.url);
  assert.equal(page.url(), `http://127.0.0.1:${dashboard.port}/`);
  await waitForText(page, "#count-total", /^2$/);
  await waitForText(page, "#conn", /live/);
  await cluster.ready();
  await waitForText(page, "#count-failed", /^2$/);
  const { long, talker, gated } = jobs.later();
  await waitForText(page, "#count-total", /^7$/);
  await waitForText(page, "#count-running", /^5$/);
  assert.equal(await textOf(page, "#count-succeeded"), "0");
  assert.match(await textOf(page, "#failure-groups"), /E_QUOTA.*quota exceeded for item 1/s, "failures grouped by code and message");

  // Counts change on screen while jobs finish (no reload), and the failures' buttons stay the same
  // elements while the failures do (one rebuilt between a press and its release loses the click).
  const loads: string[] = [];
  page.on("load", () => loads.push(page.url()));
  const retryAllButton = (await page.$("#retry-all-failed"))!;
  writeFileSync(gate, "");
  await waitForText(page, "#count-succeeded", /^3$/);
  await waitForText(page, "#count-running", /^2$/);
  assert.deepEqual(loads, [], "the page was not reloaded");
  assert.equal(await retryAllButton.evaluate((button) => button.isConnected), true, "the Retry all button outlived the overview's updates");
  await page.screenshot({ path: join(SHOTS, "overview.png"), fullPage: true });

  // A failed job's page: code, message, stack.
  await page.goto(`${dashboard.url.replace(/\?token=.*/, "")}#/job/${failing[0]}`);
  await waitForText(page, "#error-code", /^E_QUOTA$/);
  assert.equal(await textOf(page, "#error-message"), "quota exceeded for item 1");
  assert.match(await textOf(page, "#error-stack"), /at failUnlessFixed \(/);
  await page.screenshot({ path: join(SHOTS, "failed-job.png"), fullPage: true });

  await waitForText(page, "#log-state", /finished/);
  assert.match(await textOf(page, "#log-stdout"), /^item 1: over quota\n$/);

  // Retry on the failed job runs it again (now it succeeds); its page follows the new attempt's output.
  writeFileSync(fixed, "");
  await page.click("#btn-retry");
  await page.waitForSelector(".notice", WAIT);
  t.diagnostic(`after Retry: ${await textOf(page, ".notice")}`);
  await waitForText(page, "#job-state", /succeeded/);
  await waitForText(page, "#job-value", /^10$/);
  assert.equal(await malocher.state(failing[0]!), "succeeded");
  await waitForText(
    page,
    "#log-stdout",
    /^item 1: over quota\n--- malocher: the job was retried at \S+; the output above is from earlier runs ---\n--- malocher: a run of attempt \d+ began on local at \S+; the output above is from earlier runs ---\nitem 1: fixed\n$/,
  );
  assert.equal(await (await page.$("#btn-retry"))?.boundingBox(), null, "no Retry on a job that succeeded");

  // Logs tail live: the talker's lines keep coming on its page.
  await page.goto(`${dashboard.url.replace(/\?token=.*/, "")}#/job/${talker}`);
  await waitForText(page, "#log-stdout", /tick 3\n/);
  const seen = Number(/tick (\d+)\n$/.exec(await textOf(page, "#log-stdout"))?.[1]);
  await waitForText(page, "#log-stdout", new RegExp(`tick ${seen + 5}\\n`));
  await page.screenshot({ path: join(SHOTS, "live-log.png"), fullPage: true });
  writeFileSync(talkGate, "");
  await waitForText(page, "#log-state", /finished/);
  await waitForText(page, "#job-state", /succeeded/);

  // Cancel on the running job kills it.
  await page.goto(`${dashboard.url.replace(/\?token=.*/, "")}#/job/${long}`);
  await waitForText(page, "#job-state", /running/);
  await page.click("#btn-cancel");
  await waitForText(page, "#job-state", /cancelled/);
  await waitUntil(async () => (await malocher.state(long)) === "cancelled", 20_000, "the long job cancelled");
  const result = await malocher.result(long, { timeoutMs: 20_000 });
  assert.equal(result.ok ? "ok" : result.error.code, "JOB_CANCELLED");

  // The jobs list and the nodes.
  await page.goto(`${dashboard.url.replace(/\?token=.*/, "")}#/jobs`);
  await page.waitForSelector(`tr.job-row[data-id="${gated[0]}"]`, WAIT);
  assert.equal(await page.$$eval("tr.job-row", (rows) => rows.length), 7);
  await page.screenshot({ path: join(SHOTS, "jobs.png"), fullPage: true });
  // Bulk: "Retry listed failed" on the list re-runs the other failed job; its row turns succeeded in place.
  const otherFailed = `tr.job-row[data-id="${failing[1]}"] .state`;
  assert.equal(await textOf(page, otherFailed), "failed");
  await page.click("#retry-listed");
  await waitForText(page, otherFailed, /^succeeded$/);
  await page.goto(`${dashboard.url.replace(/\?token=.*/, "")}#/nodes`);
  await waitForText(page, "#nodes-body", /local.*ready/s);
  await page.screenshot({ path: join(SHOTS, "nodes.png"), fullPage: true });
  assert.deepEqual(pageErrors, [], "no errors in the page");
  t.diagnostic(`screenshots in ${SHOTS}`);
}
