// What an app does with the package: import it by name, init, connect, load, search. The
// stack's address and keys come in the URL's fragment (the build is static); the outcome goes
// to window.__result for the test driver (vite.test.mjs) to read.
import init, { Client } from "s3vec";

const status = document.getElementById("status");

async function run() {
  const config = JSON.parse(decodeURIComponent(location.hash.slice(1)));
  await init();
  const client = await Client.connect(config.connect);
  if (config.seed) {
    await client.add(config.seed);
  }
  const progress = [];
  const loaded = await client.load({ onProgress: (p) => progress.push(p) });
  const hits = await client.search(config.query, { k: 3 });
  const repeat = await client.search(config.query, { k: 3 });
  return {
    loaded,
    progress,
    hits,
    sameAgain: JSON.stringify(hits) === JSON.stringify(repeat),
    stats: client.stats,
    size: client.size,
  };
}

run().then(
  (result) => {
    status.textContent = `found ${result.hits.map((h) => h.id).join(", ")}`;
    window.__result = { ok: true, ...result };
  },
  (e) => {
    status.textContent = `failed: ${e.code ?? ""} ${e.message}`;
    window.__result = { ok: false, name: e.name, code: e.code, message: e.message };
  },
);
