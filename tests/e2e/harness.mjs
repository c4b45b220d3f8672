// What the browser end-to-end tests share: a small corpus, the demo stack started by
// scripts/demo.sh (the same script `make demo` runs) on free ports in a temporary directory,
// the local stack's test endpoints, and headless Chromium through playwright-core.

import { spawn } from "node:child_process";
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createGunzip } from "node:zlib";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const ARTIFACTS = join(ROOT, "target", "e2e-artifacts");
const BIN = process.env.S3VEC_E2E_BIN || join(ROOT, "target", "debug");

// ---------------------------------------------------------------------------------------------
// The corpus: 300 documents of the committed Debian subset, small enough to index in seconds,
// with every image tool in it (the query tests look for one) and every package that is not
// priority "optional" (the filter tests need more than one priority).

export const IMAGE_RE = /\b(image|images|imaging|photo|photos|picture|pictures|resiz\w*|scal\w*|jpeg|png|gif|graphics?)\b/i;

export async function makeCorpus(path, size = 300) {
  const lines = createInterface({ input: createReadStream(join(ROOT, "corpus", "debian-3000.jsonl.gz")).pipe(createGunzip()) });
  const all = [];
  for await (const line of lines) if (line.trim()) all.push(JSON.parse(line));
  const wanted = all.filter((d) => IMAGE_RE.test(d.text) || d.metadata.priority !== "optional"
    || d.metadata.section === "graphics");
  const chosen = new Set(wanted.map((d) => d.id));
  // The rest: every n-th document, so the sections stay as varied as the whole corpus.
  const step = Math.max(1, Math.floor(all.length / size));
  for (let i = 0; chosen.size < size && i < all.length; i += step) chosen.add(all[i].id);
  for (let i = 0; chosen.size < size && i < all.length; i++) chosen.add(all[i].id);
  const docs = all.filter((d) => chosen.has(d.id)).slice(0, Math.max(size, wanted.length));
  writeFileSync(path, docs.map((d) => JSON.stringify(d)).join("\n") + "\n");
  return docs;
}

// ---------------------------------------------------------------------------------------------
// The stack

export async function startDemo({ name, corpusSize = 300, sessionLifetime, shardSize = 50 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), `s3vec-e2e-${name}-`));
  const corpus = join(dir, "corpus.jsonl");
  const docs = await makeCorpus(corpus, corpusSize);
  const ready = join(dir, "demo.json");
  const args = ["--data-dir", join(dir, "data"), "--web-port", "0", "--corpus", corpus,
    "--shard-size", String(shardSize), "--bin", BIN, "--ready-file", ready, "--quiet"];
  if (sessionLifetime) args.push("--session-lifetime", String(sessionLifetime));
  const log = [];
  const child = spawn(join(ROOT, "scripts", "demo.sh"), args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (b) => log.push(b.toString()));
  child.stderr.on("data", (b) => log.push(b.toString()));
  let exited = null;
  child.on("exit", (code, signal) => { exited = { code, signal }; });
  const deadline = Date.now() + 240_000; // a cold model load and 300 embeddings on a busy machine
  while (!existsSync(ready)) {
    if (exited) throw new Error(`scripts/demo.sh exited (${JSON.stringify(exited)}):\n${log.join("")}\n${tail(join(dir, "data", "logs", "index.log"))}`);
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`the demo stack was not ready after 240 s:\n${log.join("")}`);
    }
    await sleep(100);
  }
  const info = JSON.parse(readFileSync(ready, "utf8"));
  return {
    info,
    docs,
    dir,
    log,
    /** The S3 requests the stack answered after `seq` (dev/README.md, GET /_dev/stats). */
    async s3Requests(afterSeq = 0) {
      const r = await fetch(`${info.s3}/_dev/stats`);
      const body = await r.json();
      return { total: body.total, requests: body.recent.filter((e) => e.seq > afterSeq) };
    },
    /** Changes the Bedrock service's rate limit, faults or CORS (PUT /_dev/bedrock). */
    async bedrock(update) {
      const r = await fetch(`${info.bedrock}/_dev/bedrock`, { method: "PUT", body: JSON.stringify(update) });
      if (!r.ok) throw new Error(`PUT /_dev/bedrock: ${r.status} ${await r.text()}`);
      return r.json();
    },
    /** A service's log (stack, presign, web, index), without terminal colours. */
    logs(which) {
      return tail(join(info.dataDir, "logs", `${which}.log`), 400).replace(/\x1b\[[0-9;]*m/g, "");
    },
    async stop() {
      if (!exited) {
        const done = new Promise((resolve) => child.on("exit", resolve));
        child.kill("SIGTERM"); // demo.sh stops its children by PID
        await Promise.race([done, sleep(15_000)]);
      }
      if (!process.env.S3VEC_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function tail(path, n = 30) {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-n).join("\n");
  } catch {
    return "";
  }
}

// ---------------------------------------------------------------------------------------------
// The browser

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** A fresh context (its own Cache API and sessionStorage) and page, with console errors kept. */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.problems = problems;
  return { context, page };
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Opens the page and waits until the collection is loaded and the search box is enabled. */
export async function openReady(page, url, timeout = 60_000) {
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready === "true"
    || !document.getElementById("error").hidden, null, { timeout });
  const error = await page.locator("#error").textContent();
  if (!(await page.locator("#error").isHidden())) throw new Error(`the page failed to start: ${error}`);
}

/** Types a query like a person, and waits for the results of exactly that query. */
export async function search(page, query, timeout = 30_000) {
  const before = await page.evaluate(() => window.s3vecDemo.state.searchSeq);
  await page.locator("#q").fill(query);
  await waitForResults(page, query, before, timeout);
  return hits(page);
}

export async function waitForResults(page, query, afterSeq, timeout = 30_000) {
  const failed = await page.waitForFunction(([q, seq]) => {
    const s = window.s3vecDemo.state;
    if (s.failedSeq > seq) return "failed";
    return s.renderedSeq > seq && s.lastQuery === q ? "ok" : false;
  }, [query, afterSeq], { timeout });
  if ((await failed.jsonValue()) === "failed") {
    throw new Error(`search "${query}" failed: ${await page.locator("#error").textContent()}`);
  }
}

/** The results on screen, as data attributes the page sets on each item. */
export async function hits(page) {
  return page.$$eval("#results li[data-id]", (items) => items.map((li) => ({
    id: li.dataset.id,
    score: Number(li.dataset.score),
    section: li.dataset.section,
    priority: li.dataset.priority,
    size: li.dataset.size === "" ? null : Number(li.dataset.size),
    text: li.querySelector(".hit-text").textContent,
    marks: [...li.querySelectorAll("mark")].map((m) => m.textContent),
  })));
}
