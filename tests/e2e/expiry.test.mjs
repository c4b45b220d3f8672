// Credentials that expire mid-session are renewed without the user noticing. A stack of its own:
// s3vec-dev's test hook makes every session live 20 s (whatever the presign service asks STS
// for), so the page's first credentials are dead before its later searches and writes.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { launchBrowser, newPage, openReady, screenshot, search, startDemo } from "./harness.mjs";

const LIFETIME = 20;

describe("expiring credentials", { timeout: 600_000 }, () => {
  let demo;
  let browser;

  before(async () => {
    [demo, browser] = await Promise.all([
      startDemo({ name: "expiry", sessionLifetime: LIFETIME }),
      launchBrowser(),
    ]);
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  it("are renewed without the user noticing: searches and writes go on", async () => {
    const { context, page } = await newPage(browser);
    try {
      await openReady(page, demo.info.writeUrl);
      const first = await page.evaluate(() => window.s3vecDemo.client.stats.credentialFetches);
      assert.equal(first, 1);
      let found = await search(page, "tool to resize images");
      assert.match(found[0].text, /\bimag/i);

      // Past the first session's end.
      await sleep((LIFETIME + 5) * 1000);
      found = await search(page, "an image viewer and organizer");
      assert.match(found[0].text, /imag|photo/i);
      const id = "e2e-after-expiry";
      await page.evaluate((doc) => window.s3vecDemo.addDocument(doc), {
        id, text: "e2e-after-expiry: written with renewed credentials", metadata: { section: "misc" },
      });
      assert.equal(await page.evaluate((i) => !!window.s3vecDemo.client.get(i), id), true);
      assert.equal(await page.locator("#error").isHidden(), true, await page.locator("#error").textContent());
      const stats = await page.evaluate(() => window.s3vecDemo.client.stats);
      assert.ok(stats.credentialFetches >= 2, `credentials were fetched again: ${JSON.stringify(stats)}`);
      // The presign service issued them (one POST /credentials per fetch).
      const issued = demo.logs("presign").match(/path=\/credentials status=200/g) || [];
      assert.ok(issued.length >= 2, `presign issued ${issued.length} sessions`);
      await screenshot(page, "10-after-expiry");
      assert.deepEqual(page.problems, []);
    } finally {
      await context.close();
    }
  });
});
