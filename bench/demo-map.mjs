#!/usr/bin/env node
// The demo page's map, timed by the page itself: opens the page on three fresh browser
// contexts and prints its map caption ("N documents, placed in X ms").
//
//   make demo            # in another terminal; then:
//   node bench/demo-map.mjs [URL]      # default http://127.0.0.1:8080/
import { chromium } from "playwright-core";

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  for (let run = 1; run <= 3; run++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(process.argv[2] ?? "http://127.0.0.1:8080/");
    await page.waitForFunction(
      () => /placed in/.test(document.querySelector("#map-caption")?.textContent ?? ""), null, { timeout: 60000 });
    const caption = await page.locator("#map-caption").textContent();
    console.log(`run ${run}: ${caption.split("(")[0].trim()}`);
    await context.close();
  }
} finally {
  await browser.close();
}
