// Builds this app with Vite against the packed package (node_modules/s3vec, unpacked from the
// `npm pack` tarball by scripts/test-pkg.sh), serves the build on 127.0.0.1, and runs it in
// headless Chromium (Debian's, through playwright-core: no browser download) against the local
// stack with Bedrock: a search finds the expected document, and a reload reads the shards from
// the Cache API instead of S3. Run by `make test-pkg` under scripts/with-stack.sh --bedrock.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { existsSync, readdirSync } from "node:fs";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const stack = process.env.S3VEC_TEST_STACK;
const bedrock = process.env.S3VEC_TEST_BEDROCK;
const skip = !stack || !bedrock ? "needs the local stack with Bedrock (make test-pkg)" : false;
const here = fileURLToPath(new URL(".", import.meta.url));
const dist = fileURLToPath(new URL("../../target/vite-app/", import.meta.url));
const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium";

const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };

/** A static server for the build, on a free port of 127.0.0.1. */
async function serve(root) {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, "http://x").pathname));
    const file = join(root, path.endsWith("/") ? path + "index.html" : path);
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

const cleanup = [];
after(async () => {
  for (const f of cleanup.reverse()) await f();
});

test("a Vite build of an app importing s3vec searches the local stack in Chromium", { skip, timeout: 180_000 }, async () => {
  assert.ok(existsSync(join(here, "node_modules/s3vec/package.json")), "scripts/test-pkg.sh unpacks the tarball first");
  const { build } = await import("vite");
  await build({ configFile: join(here, "vite.config.js") });
  const assets = readdirSync(join(dist, "assets"));
  assert.ok(assets.some((f) => f.endsWith(".wasm")), `the wasm module is an asset of the build: ${assets}`);

  const server = await serve(dist);
  cleanup.push(() => new Promise((r) => server.close(r)));
  const { chromium: launcher } = await import("playwright-core");
  const browser = await launcher.launch({
    executablePath: chromium,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  cleanup.push(() => browser.close());
  const page = await browser.newPage();
  const logs = [];
  page.on("console", (m) => logs.push(m.text()));
  page.on("pageerror", (e) => logs.push(String(e)));

  const [s3, accessKeyId, secretAccessKey, region] = stack.split("|");
  const connect = {
    credentials: { accessKeyId, secretAccessKey },
    region,
    bucket: "vec-test",
    prefix: `vite-${Date.now()}`,
    dims: 512,
    endpoints: { s3, bedrock },
  };
  const seed = [
    { id: "gimp", text: "GNU Image Manipulation Program: edit, resize and retouch photos", metadata: { section: "graphics" } },
    { id: "python3", text: "interactive high-level object-oriented programming language", metadata: { section: "python" } },
    { id: "curl", text: "command line tool for transferring data with URL syntax", metadata: { section: "web" } },
  ];
  const { port } = server.address();
  const url = (config) => `http://127.0.0.1:${port}/#${encodeURIComponent(JSON.stringify(config))}`;
  const result = async () => {
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 120_000 });
    return page.evaluate(() => window.__result);
  };

  await page.goto(url({ connect, seed, query: "tool to resize images" }));
  const first = await result();
  assert.ok(first.ok, `${JSON.stringify(first)}\n${logs.join("\n")}`);
  assert.equal(first.hits[0].id, "gimp");
  assert.equal(first.size, 3);
  assert.equal(first.loaded.kind, "loaded");
  assert.ok(first.sameAgain);
  assert.equal(first.stats.queryCacheHits, 1, "the repeated query was answered from memory");
  assert.equal(first.stats.bedrockRequests, 4, "3 documents and 1 query");
  assert.equal(first.progress.at(-1).loadedShards, 1);

  // A new page (same origin): the shard comes from the Cache API, only the manifest from S3.
  await page.goto("about:blank");
  await page.goto(url({ connect, query: "transferring data" }));
  const second = await result();
  assert.ok(second.ok, JSON.stringify(second));
  assert.equal(second.hits[0].id, "curl");
  assert.equal(second.loaded.cachedShards, 1, JSON.stringify(second.loaded));
  assert.equal(second.loaded.downloadedBytes, 0);
  await page.screenshot({ path: join(dist, "screenshot.png") });

  // Bedrock without CORS, called directly: the browser hides why the call failed, the package
  // tells it apart from a dead network by a no-cors probe of the same URL.
  const cors = (corsOrigins) => fetch(`${bedrock}/_dev/bedrock`, { method: "PUT", body: JSON.stringify({ corsOrigins }) });
  assert.ok((await cors(null)).ok);
  cleanup.push(() => cors(["*"]));
  await page.goto("about:blank");
  await page.goto(url({ connect: { ...connect, bedrockRoute: "direct" }, query: "a query not embedded yet" }));
  const blocked = await result();
  assert.equal(blocked.ok, false, JSON.stringify(blocked));
  assert.equal(blocked.name, "S3vecError");
  assert.equal(blocked.code, "CorsBlocked", blocked.message);
  assert.match(blocked.message, /CORS/);
  assert.ok((await cors(["*"])).ok);

  // Nothing listening: Network.
  await page.goto("about:blank");
  await page.goto(url({ connect: { ...connect, endpoints: { s3: "http://127.0.0.1:9", bedrock } }, query: "x" }));
  const dead = await result();
  assert.equal(dead.code, "Network", dead.message);
});
