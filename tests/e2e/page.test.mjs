// The demo page (www/) in headless Chromium against the demo stack: the local S3 + STS and
// Bedrock-compatible service, the presign service in local mode and the static server, all
// started by scripts/demo.sh on free ports, with 300 Debian packages indexed by the CLI in
// shards of 50. Screenshots of the main states go to target/e2e-artifacts/.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  hits, launchBrowser, newPage, openReady, screenshot, search, startDemo, waitForResults,
} from "./harness.mjs";

const ADDED = {
  id: "e2e-photo-shrinker",
  text: "e2e-photo-shrinker: shrinks holiday photos into small thumbnails for a web gallery",
  query: "make thumbnails of my holiday photos",
};

describe("the demo page", { timeout: 600_000 }, () => {
  let demo;
  let browser;
  let origins;

  before(async () => {
    [demo, browser] = await Promise.all([startDemo({ name: "page" }), launchBrowser()]);
    const port = new URL(demo.info.url).port;
    origins = [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  it("loads the corpus with the progress bar moving shard by shard", async () => {
    const { context, page } = await newPage(browser);
    try {
      await openReady(page, demo.info.writeUrl);
      const log = await page.evaluate(() => window.s3vecDemo.state.progressLog);
      const last = log.at(-1);
      assert.equal(last.totalShards, 6, "300 documents in shards of 50");
      assert.equal(last.loadedShards, 6);
      assert.equal(last.loadedBytes, last.totalBytes);
      assert.equal(log[0].loadedBytes, 0, "the first call is before any shard");
      const steps = new Set(log.map((p) => p.loadedShards));
      assert.ok(steps.size >= 4, `the bar moved in steps: ${[...steps]}`);
      for (let i = 1; i < log.length; i++) {
        assert.ok(log[i].loadedBytes >= log[i - 1].loadedBytes, "never moves backwards");
      }
      assert.equal(await page.locator("#load-progress").evaluate((p) => p.value === p.max), true);
      assert.match(await page.locator("#load-detail").textContent(), /300 documents from 6 shards/);
      assert.match(await page.locator("#status").textContent(), /Ready: 300 documents, read-write/);
      // The token left the address bar (and so the history) as soon as the page read it.
      assert.equal(new URL(page.url()).hash, "");
      assert.deepEqual(page.problems, []);
      await screenshot(page, "01-loaded");
    } finally {
      await context.close();
    }
  });

  it("finds an image tool first for \"tool to resize images\", highlighted and on the map", async () => {
    const { context, page } = await newPage(browser);
    try {
      await openReady(page, demo.info.url);
      const found = await search(page, "tool to resize images");
      assert.equal(found.length, 10);
      assert.match(found[0].text, /\bimag/i, `first hit: ${found[0].text}`);
      for (let i = 1; i < found.length; i++) assert.ok(found[i].score <= found[i - 1].score, "best first");
      assert.ok(found[0].marks.some((m) => /^imag/i.test(m)), `highlighted: ${found[0].marks}`);
      const timing = await page.locator("#timing").textContent();
      assert.match(timing, /10 results · ranking [\d.]+ ms \(exact, 300 documents\) · embedding [\d.]+ ms \(Bedrock\)/);
      // The same query again costs no Bedrock call.
      await page.locator("#q").fill("");
      await search(page, "tool to resize images");
      assert.match(await page.locator("#timing").textContent(), /\(cached\)/);
      // The map: every document placed, and the first hit lit up in amber (#ffb000), seen on a
      // ring around its point (the query's star may sit on top of it).
      assert.match(await page.locator("#map-caption").textContent(), /^300 documents, placed in [\d.]+ ms \(PCA in wasm/);
      const amber = await page.evaluate((id) => {
        const [x, y] = window.s3vecDemo.mapPoint(id);
        const canvas = document.getElementById("map");
        const dpr = canvas.width / canvas.clientWidth;
        const ctx = canvas.getContext("2d");
        let seen = 0;
        for (let a = 0; a < 16; a++) {
          const px = Math.round((x + 6.5 * Math.cos((a * Math.PI) / 8)) * dpr);
          const py = Math.round((y + 6.5 * Math.sin((a * Math.PI) / 8)) * dpr);
          const [r, g, b] = ctx.getImageData(px, py, 1, 1).data;
          if (r > 200 && g > 140 && g < 210 && b < 60) seen++;
        }
        return seen;
      }, found[0].id);
      assert.ok(amber > 0, "the first hit is highlighted on the map");
      await screenshot(page, "02-search");
      assert.deepEqual(page.problems, []);
    } finally {
      await context.close();
    }
  });

  it("narrows results with the section, priority and size filters", async () => {
    const { context, page } = await newPage(browser);
    try {
      await openReady(page, demo.info.url);
      const query = "tool to resize images";
      const unfiltered = await search(page, query);

      const afterChange = async (action) => {
        const seq = await page.evaluate(() => window.s3vecDemo.state.searchSeq);
        await action();
        await waitForResults(page, query, seq);
        return hits(page);
      };

      // The sections offered are those the loaded documents have, with counts.
      const sections = await page.$$eval("#f-section option", (o) => o.map((x) => x.textContent));
      assert.ok(sections.some((s) => /^graphics \(\d+\)$/.test(s)), `sections: ${sections}`);
      let found = await afterChange(() => page.selectOption("#f-section", "graphics"));
      assert.ok(found.length > 0);
      assert.ok(found.every((h) => h.section === "graphics"), JSON.stringify(found.map((h) => h.section)));
      assert.notDeepEqual(found.map((h) => h.id), unfiltered.map((h) => h.id));
      await screenshot(page, "03-filter-section");

      await afterChange(() => page.click("#f-clear"));
      const priorities = await page.$$eval("#f-priority option", (o) => o.map((x) => x.value).filter(Boolean));
      const rare = demo.docs.map((d) => d.metadata.priority).find((p) => p !== "optional");
      assert.ok(rare && priorities.includes(rare), `${rare} is offered: ${priorities}`);
      found = await afterChange(() => page.selectOption("#f-priority", rare));
      assert.ok(found.length > 0);
      assert.ok(found.every((h) => h.priority === rare));

      await afterChange(() => page.click("#f-clear"));
      found = await afterChange(() => page.locator("#f-size-max").fill("200"));
      assert.ok(found.length > 0);
      assert.ok(found.every((h) => h.size !== null && h.size <= 200), JSON.stringify(found.map((h) => h.size)));
      found = await afterChange(async () => {
        await page.locator("#f-size-max").fill("");
        await page.locator("#f-size-min").fill("20000");
      });
      assert.ok(found.length > 0);
      assert.ok(found.every((h) => h.size >= 20000), JSON.stringify(found.map((h) => h.size)));

      // Filters that match nothing say so.
      found = await afterChange(async () => {
        await page.locator("#f-size-min").fill("1000000000");
      });
      assert.equal(found.length, 0);
      assert.match(await page.locator("#results").textContent(), /No document matches these filters/);
      assert.deepEqual(page.problems, []);
    } finally {
      await context.close();
    }
  });

  it("switches between exact, int8 and binary ranking, with the query time shown", async () => {
    const { context, page } = await newPage(browser);
    try {
      await openReady(page, demo.info.url);
      const query = "image viewer";
      const exact = await search(page, query);
      for (const mode of ["int8", "binary"]) {
        const seq = await page.evaluate(() => window.s3vecDemo.state.searchSeq);
        await page.check(`input[name="mode"][value="${mode}"]`);
        await waitForResults(page, query, seq);
        const found = await hits(page);
        const timing = await page.locator("#timing").textContent();
        assert.match(timing, new RegExp(`ranking [\\d.]+ ms \\(${mode}, 300 documents\\)`));
        // Quantized candidates, reranked with the f32 vectors: the same best hit, and the same
        // exact scores for the documents both found.
        assert.equal(found[0].id, exact[0].id, `${mode}: ${found[0].id} vs ${exact[0].id}`);
        const common = found.filter((h) => exact.some((e) => e.id === h.id));
        assert.ok(common.length >= 8, `${mode} keeps ${common.length} of the exact top 10`);
        for (const h of common) {
          const e = exact.find((x) => x.id === h.id);
          assert.ok(Math.abs(e.score - h.score) < 1e-4, `${mode} ${h.id}: ${h.score} vs ${e.score}`);
        }
      }
      await screenshot(page, "04-mode-binary");
      assert.deepEqual(page.problems, []);
    } finally {
      await context.close();
    }
  });

  it("makes an added document searchable at once, and after a reload from S3", async () => {
    const { context, page } = await newPage(browser);
    try {
      await openReady(page, demo.info.writeUrl);
      assert.equal(await page.locator("#add-button").isDisabled(), false);
      const { total: before } = await demo.s3Requests();
      await page.locator("#add-id").fill(ADDED.id);
      await page.locator("#add-text").fill(ADDED.text);
      await page.selectOption("#add-section", "graphics");
      await page.locator("#add-size").fill("42");
      await page.click("#add-button");
      await page.waitForFunction(() => /^Added|was not added/.test(document.getElementById("write-result").textContent), null, { timeout: 30_000 });
      assert.match(await page.locator("#write-result").textContent(), /^Added e2e-photo-shrinker: published in generation \d+/);
      const { requests } = await demo.s3Requests(before);
      const puts = requests.filter((r) => r.method === "PUT" && r.status === 200).map((r) => r.path);
      assert.ok(puts.some((p) => p.includes("/shards/")), `a shard was written: ${puts}`);
      assert.ok(puts.some((p) => p.endsWith("/manifest.json")), `the manifest was published: ${puts}`);

      let found = await search(page, ADDED.query);
      assert.equal(found[0].id, ADDED.id);
      assert.equal(found[0].section, "graphics");
      assert.equal(found[0].size, 42);
      await screenshot(page, "05-added");

      // A reload keeps write access (sessionStorage) and reads the collection from S3 again.
      await page.reload();
      await openReady(page, page.url());
      assert.equal(await page.evaluate(() => window.s3vecDemo.state.lastLoad.documents), 301);
      assert.equal(await page.evaluate(() => window.s3vecDemo.client.access), "write");
      found = await search(page, ADDED.query);
      assert.equal(found[0].id, ADDED.id);
      assert.deepEqual(page.problems, []);

      // Another browser, with nothing cached: every shard, the new one included, from S3.
      const other = await newPage(browser);
      try {
        const { total: mark } = await demo.s3Requests();
        await openReady(other.page, demo.info.url);
        const { requests } = await demo.s3Requests(mark);
        const shards = requests.filter((r) => r.method === "GET" && r.path.includes("/shards/"));
        assert.equal(shards.length, 7, JSON.stringify(requests));
        assert.equal((await search(other.page, ADDED.query))[0].id, ADDED.id);
      } finally {
        await other.context.close();
      }
    } finally {
      await context.close();
    }
  });

  it("removes a document: gone at once, and after a reload", async () => {
    const { context, page } = await newPage(browser);
    try {
      await openReady(page, demo.info.writeUrl);
      let found = await search(page, ADDED.query);
      assert.equal(found[0].id, ADDED.id);
      const seq = await page.evaluate(() => window.s3vecDemo.state.searchSeq);
      await page.getByRole("button", { name: `Remove ${ADDED.id}` }).click();
      await waitForResults(page, ADDED.query, seq);
      assert.match(await page.locator("#write-result").textContent(), /^Removed e2e-photo-shrinker: tombstone published in generation \d+/);
      found = await hits(page);
      assert.ok(found.length > 0);
      assert.ok(!found.some((h) => h.id === ADDED.id));

      await page.reload();
      await openReady(page, page.url());
      assert.equal(await page.evaluate(() => window.s3vecDemo.client.size), 300);
      found = await search(page, ADDED.query);
      assert.ok(!found.some((h) => h.id === ADDED.id));
      assert.deepEqual(page.problems, []);
    } finally {
      await context.close();
    }
  });

  it("with read-only credentials, disables writing and explains a refused write", async () => {
    const { context, page } = await newPage(browser);
    try {
      await openReady(page, demo.info.url);
      assert.equal(await page.evaluate(() => window.s3vecDemo.client.access), "read");
      assert.equal(await page.locator("#add-fields").evaluate((f) => f.disabled), true);
      assert.equal(await page.locator("#add-id").isDisabled(), true);
      assert.equal(await page.locator("#add-button").isDisabled(), true);
      assert.match(await page.locator("#write-why").textContent(), /Read-only: these credentials cannot write/);
      await search(page, "image viewer");
      const removes = page.locator("#results button.remove");
      assert.ok((await removes.count()) > 0);
      for (const b of await removes.all()) assert.equal(await b.isDisabled(), true);

      // The page's own add, bypassing the disabled form: S3 refuses it and the page says why.
      const { total: before } = await demo.s3Requests();
      const code = await page.evaluate(() => window.s3vecDemo
        .addDocument({ id: "e2e-not-allowed", text: "e2e-not-allowed: must not be published" })
        .then(() => "published", (e) => e.code));
      assert.equal(code, "AccessDenied");
      const error = page.locator("#error");
      assert.equal(await error.isVisible(), true);
      const message = await error.textContent();
      assert.match(message, /Adding e2e-not-allowed failed: \[AccessDenied\]/);
      assert.match(message, /write token/);
      const { requests } = await demo.s3Requests(before);
      assert.deepEqual(requests.filter((r) => r.method === "PUT" && r.status === 200), [], "nothing was written");
      await screenshot(page, "06-read-only");
    } finally {
      await context.close();
    }
  });

  it("with a wrong write token, says so and carries on read-only", async () => {
    const { context, page } = await newPage(browser);
    try {
      await openReady(page, `${demo.info.url}#token=not-the-token`);
      assert.equal(await page.evaluate(() => window.s3vecDemo.client.access), "read");
      assert.match(await page.locator("#notice").textContent(), /The write token was refused \(.+\); searching read-only/);
      assert.equal(await page.locator("#add-button").isDisabled(), true);
      // Forgotten: a reload does not try it again.
      assert.equal(await page.evaluate(() => sessionStorage.length), 0);
      assert.match((await search(page, "image viewer"))[0].text, /imag/i);
    } finally {
      await context.close();
    }
  });

  it("reloads from the browser cache: only the manifest is read from S3", async () => {
    const { context, page } = await newPage(browser);
    try {
      // The bucket's requests only: the presign service's AssumeRole calls (POST /) go to the
      // same port.
      const bucketRequests = async (after) => {
        const { requests, total } = await demo.s3Requests(after);
        return { total, requests: requests.filter((r) => r.path.startsWith(`/${demo.info.bucket}/`)) };
      };
      let { total: mark } = await demo.s3Requests();
      await openReady(page, demo.info.url);
      let { requests, total } = await bucketRequests(mark);
      const shardGets = (rs) => rs.filter((r) => r.method === "GET" && r.path.includes("/shards/"));
      const manifestGets = (rs) => rs.filter((r) => r.method === "GET" && r.path.endsWith("/manifest.json"));
      const shards = await page.evaluate(() => window.s3vecDemo.state.lastLoad.shards);
      assert.ok(shards >= 7, `six indexed shards and the added one: ${shards}`);
      assert.equal(shardGets(requests).length, shards, "a fresh browser downloads every shard");
      mark = total;

      await page.reload();
      await openReady(page, page.url());
      ({ requests } = await bucketRequests(mark));
      assert.equal(shardGets(requests).length, 0, JSON.stringify(requests));
      assert.equal(manifestGets(requests).length, 1, JSON.stringify(requests));
      assert.equal(requests.length, 1, `nothing but the manifest: ${JSON.stringify(requests)}`);
      const report = await page.evaluate(() => window.s3vecDemo.state.lastLoad);
      assert.equal(report.cachedShards, shards);
      assert.equal(report.downloadedBytes, 0);
      assert.match(await page.locator("#load-detail").textContent(), new RegExp(`${shards} from the browser cache`));
      // And it still searches.
      const found = await search(page, "tool to resize images");
      assert.match(found[0].text, /\bimag/i);
    } finally {
      await context.close();
    }
  });

  it("shows a retry notice, not an error, while Bedrock throttles", async () => {
    const { context, page } = await newPage(browser);
    try {
      await openReady(page, demo.info.url);
      // One InvokeModel a second (bursts of one): the second of two quick queries is throttled.
      await demo.bedrock({ rateLimit: 1 });
      await search(page, "a program to edit photos");
      const seq = await page.evaluate(() => window.s3vecDemo.state.searchSeq);
      await page.locator("#q").fill("a library to read png files");
      const notice = page.locator("#notice");
      await notice.waitFor({ state: "visible", timeout: 15_000 });
      assert.match(await notice.textContent(), /Bedrock is throttling requests: retrying the query|Bedrock throttled the query/);
      await screenshot(page, "07-throttled");
      await waitForResults(page, "a library to read png files", seq);
      assert.equal(await page.locator("#error").isHidden(), true);
      assert.match(await notice.textContent(), /Bedrock throttled the query; it went through after \d+ retr/);
      const stats = await page.evaluate(() => window.s3vecDemo.client.stats);
      assert.ok(stats.throttleRetries > 0, JSON.stringify(stats));
      assert.ok((await hits(page)).length > 0);
    } finally {
      await demo.bedrock({ rateLimit: null });
      await context.close();
    }
  });

  it("reaches Bedrock through the presign relay when Bedrock answers no CORS", async () => {
    const { context, page } = await newPage(browser);
    try {
      await demo.bedrock({ corsOrigins: null });
      await openReady(page, demo.info.url);
      const found = await search(page, "an image viewer for photos");
      assert.match(found[0].text, /imag|photo/i);
      assert.match(await page.locator("#timing").textContent(), /\(Bedrock via relay\)/);
      assert.equal(await page.evaluate(() => window.s3vecDemo.client.stats.bedrockRoute), "relay");
      assert.equal(await page.locator("#error").isHidden(), true);
      assert.match(demo.logs("presign"), /path=\/bedrock\/model\/\S+\/invoke status=200/);
      await screenshot(page, "08-relay");
    } finally {
      await demo.bedrock({ corsOrigins: origins });
      await context.close();
    }
  });

  it("works from the keyboard and fits a phone screen", async () => {
    const { context, page } = await newPage(browser, {
      viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
    });
    try {
      await openReady(page, demo.info.url);
      // Every form control has a label (its accessible name).
      const unlabelled = await page.$$eval("input, select, textarea", (els) => els
        .filter((e) => e.type !== "hidden" && !(e.labels && e.labels.length) && !e.getAttribute("aria-label"))
        .map((e) => e.id || e.name));
      assert.deepEqual(unlabelled, []);
      // The page focuses the search box once loaded; typing searches, Tab reaches the modes.
      assert.equal(await page.evaluate(() => document.activeElement.id), "q");
      const seq = await page.evaluate(() => window.s3vecDemo.state.searchSeq);
      await page.keyboard.type("tool to resize images");
      await waitForResults(page, "tool to resize images", seq);
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement.name), "mode");
      // No sideways scrolling on a 390 px wide screen.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${overflow} px too wide`);
      await screenshot(page, "09-phone");
      assert.deepEqual(page.problems, []);
    } finally {
      await context.close();
    }
  });
});
