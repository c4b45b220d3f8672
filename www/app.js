// The demo page. Everything it does goes through the package's public API (docs/JS-API.md):
// connect through the presign endpoint, load the shards with a progress bar, search as you
// type, add and remove documents, and draw the collection's 2-D map. `window.s3vecDemo` exposes
// the client and the page's own actions, for the console and for tests/e2e.
//
// Configuration, first found wins:
//   ?presign=URL      the presign endpoint's credentials URL (…/credentials)
//   s3vec-config.json next to this page: {credentialsUrl, relayUrl?, prefix?, modelId?}
//                     (terraform uploads it; the demo's static server serves the demo's own)
//   ?prefix=P         the collection's prefix (default: the config's, else the presign default)
//   ?bedrock=ROUTE    "auto" (default), "direct" or "relay"
//   #token=T          the write token: kept in sessionStorage for this tab only, removed from
//                     the address bar, and sent to the presign endpoint alone

const PKG = "./pkg/web/s3vec.js";
const TOKEN_KEY = "s3vec-demo-write-token";
const DEBOUNCE_MS = 250;
const K = 10;
// Debian's fixed lists, offered until the loaded documents tell which values exist.
const DEBIAN_SECTIONS = ["admin", "cli-mono", "comm", "database", "debug", "devel", "doc", "editors",
  "education", "electronics", "embedded", "fonts", "games", "gnome", "gnu-r", "gnustep", "golang",
  "graphics", "hamradio", "haskell", "httpd", "interpreters", "introspection", "java", "javascript",
  "kde", "kernel", "libdevel", "libs", "lisp", "localization", "mail", "math", "metapackages", "misc",
  "net", "news", "ocaml", "oldlibs", "otherosfs", "perl", "php", "python", "ruby", "rust", "science",
  "shells", "sound", "tasks", "tex", "text", "utils", "vcs", "video", "web", "x11", "xfce", "zope"];
const DEBIAN_PRIORITIES = ["required", "important", "standard", "optional", "extra"];
const STOPWORDS = new Set(["a", "an", "the", "to", "for", "of", "and", "or", "in", "on", "with", "by",
  "from", "that", "this", "is", "are", "be", "as", "at", "it", "its", "my", "me", "i", "some", "any"]);

const $ = (id) => document.getElementById(id);
const el = {
  status: $("status"), loading: $("loading"), bar: $("load-progress"), loadLabel: $("load-label"),
  loadDetail: $("load-detail"), notice: $("notice"), error: $("error"), q: $("q"),
  form: $("search-form"), section: $("f-section"), priority: $("f-priority"),
  sizeMin: $("f-size-min"), sizeMax: $("f-size-max"), clear: $("f-clear"), timing: $("timing"),
  results: $("results"), map: $("map"), mapCaption: $("map-caption"), addForm: $("add-form"),
  addFields: $("add-fields"), addId: $("add-id"), addText: $("add-text"),
  addSection: $("add-section"), addPriority: $("add-priority"), addSize: $("add-size"),
  writeWhy: $("write-why"), writeResult: $("write-result"), facts: $("facts"),
};

const state = {
  client: null,
  config: null,
  loaded: false,
  writable: false,
  lastLoad: null,      // the LoadReport of the last load
  loadSeconds: 0,
  progressLog: [],     // every progress value shown (the e2e test checks the bar moved)
  searchSeq: 0,        // the newest search started
  renderedSeq: 0,      // the newest search shown (tests wait on these two)
  failedSeq: 0,
  lastHits: [],
  lastQuery: "",
  lastQueryVector: null,
  lastTiming: null,
  map: null,           // {ids, points, mean, components, explained, index, bounds, colors}
  mapNote: "",
  noticeTimer: 0,
};

// ---------------------------------------------------------------------------------------------
// Small helpers

const fmtInt = (n) => Number(n).toLocaleString("en-US");
const plural = (n, one, many = `${one}s`) => `${fmtInt(n)} ${n === 1 ? one : many}`;
function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
}
function fmtMs(ms) {
  return ms < 10 ? `${ms.toFixed(2)} ms` : `${Math.round(ms)} ms`;
}
function fmtKiB(kib) {
  if (kib < 1024) return `${kib} KiB`;
  return `${(kib / 1024).toFixed(1)} MiB`;
}
function node(tag, props = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") n.className = v;
    else if (k === "dataset") Object.assign(n.dataset, v);
    else if (k in n && typeof v !== "string") n[k] = v;
    else n.setAttribute(k, v);
  }
  for (const c of children) if (c != null) n.append(c);
  return n;
}
function setStatus(text) { el.status.textContent = text; }

// Errors from the package carry a stable `code` (docs/JS-API.md); say what to do about each.
const HINTS = {
  AccessDenied: "These credentials do not allow it. Writing needs the write token: open the writer link that `make demo` prints (…/#token=…).",
  CredentialsUnavailable: "The presign endpoint did not hand out credentials. Is it running, and is this page's origin in its ALLOWED_ORIGINS?",
  ExpiredCredentials: "The credentials expired and could not be renewed: reload the page.",
  InvalidCredentials: "The credentials were refused: reload the page to get new ones.",
  NoCollection: "Nothing is published under this prefix yet: index a corpus with the CLI, or add a document.",
  Throttled: "Bedrock kept throttling after several retries: wait a few seconds and try again.",
  CorsBlocked: "The browser blocked an answer (CORS): allow this origin on the bucket, or use ?bedrock=relay.",
  Network: "No answer: check the endpoints and your connection.",
  ModelNotAvailable: "This account or region cannot use the collection's embedding model.",
  ModeUnavailable: "This collection stores binary vectors only: choose the binary mode.",
  Conflict: "Other writers kept publishing first: try again.",
};
function showError(e, context) {
  const code = e && e.code;
  el.error.replaceChildren(
    node("strong", {}, context ? `${context}:` : "Error:"),
    document.createTextNode(` ${code ? `[${code}] ` : ""}${(e && e.message) || String(e)}`),
    ...(HINTS[code] ? [node("br"), document.createTextNode(HINTS[code])] : []),
  );
  el.error.hidden = false;
  el.error.dataset.code = code || "";
}
function clearError() { el.error.hidden = true; el.error.replaceChildren(); el.error.dataset.code = ""; }
function showNotice(text, { kind = "info", hideAfterMs = 0 } = {}) {
  clearTimeout(state.noticeTimer);
  el.notice.textContent = text;
  el.notice.dataset.kind = kind;
  el.notice.hidden = false;
  if (hideAfterMs) state.noticeTimer = setTimeout(() => { el.notice.hidden = true; }, hideAfterMs);
}

// ---------------------------------------------------------------------------------------------
// Configuration and connection

async function readConfig() {
  const params = new URLSearchParams(location.search);
  let config = {};
  if (params.get("presign")) {
    config.credentialsUrl = params.get("presign");
  } else {
    let response;
    try {
      response = await fetch("s3vec-config.json", { cache: "no-cache" });
    } catch (e) {
      throw new Error(`cannot fetch s3vec-config.json (${e.message}): pass ?presign=<credentials URL>`);
    }
    if (!response.ok) {
      throw new Error(`s3vec-config.json: HTTP ${response.status}. Serve one next to the page ({"credentialsUrl": …}) or pass ?presign=<credentials URL>`);
    }
    config = await response.json();
  }
  if (params.get("prefix")) config.prefix = params.get("prefix");
  config.bedrockRoute = params.get("bedrock") || config.bedrockRoute || "auto";
  if (!config.credentialsUrl) throw new Error("no credentialsUrl in s3vec-config.json and no ?presign=");
  return config;
}

// The write token travels in the fragment, which the browser never sends anywhere; keep it for
// this tab (a reload keeps write access) and take it out of the address bar and history.
function takeWriteToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("token");
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

async function connect(Client, config, token) {
  const options = { credentialsUrl: config.credentialsUrl, bedrockRoute: config.bedrockRoute };
  if (config.prefix) options.prefix = config.prefix;
  if (config.modelId) options.modelId = config.modelId;
  if (config.relayUrl) options.endpoints = { bedrockRelay: config.relayUrl };
  if (token) {
    try {
      return await Client.connect({ ...options, access: "write", writeToken: token });
    } catch (e) {
      // A wrong or stale token: say so, forget it, and carry on read-only.
      if (e && e.code === "CredentialsUnavailable" && (e.status === 401 || e.status === 400)) {
        sessionStorage.removeItem(TOKEN_KEY);
        showNotice(`The write token was refused (${e.awsCode || e.status}); searching read-only.`, { kind: "warning" });
      } else {
        throw e;
      }
    }
  }
  return Client.connect({ ...options, access: "read" });
}

// ---------------------------------------------------------------------------------------------
// Loading

async function load(client) {
  const started = performance.now();
  el.loading.classList.remove("done");
  el.loadLabel.textContent = "Loading shards from S3";
  const onProgress = (p) => {
    const seconds = (performance.now() - started) / 1000;
    state.progressLog.push({ ...p, seconds });
    el.bar.max = Math.max(1, p.totalBytes);
    el.bar.value = p.loadedBytes;
    const rate = seconds > 0 ? p.loadedBytes / 1024 / 1024 / seconds : 0;
    el.loadDetail.textContent = `${fmtBytes(p.loadedBytes)} of ${fmtBytes(p.totalBytes)} · `
      + `${p.loadedShards} of ${p.totalShards} shards · ${rate.toFixed(1)} MB/s`;
  };
  const report = await client.load({ onProgress });
  state.loadSeconds = (performance.now() - started) / 1000;
  state.lastLoad = report;
  el.bar.value = el.bar.max;
  el.loading.classList.add("done");
  el.loadLabel.textContent = "Loaded";
  const cached = report.cachedShards ? `, ${report.cachedShards} from the browser cache` : "";
  el.loadDetail.textContent = `${fmtInt(report.documents)} documents from ${report.shards} shards `
    + `(${fmtBytes(report.downloadedBytes)} downloaded${cached}) in ${state.loadSeconds.toFixed(2)} s`;
  if (report.failed && report.failed.length) {
    showNotice(`${report.failed.length} shard(s) could not be loaded and were left out: `
      + report.failed.map((f) => `${f.key} (${f.code})`).join(", "), { kind: "warning" });
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// Filters

function fillSelect(select, values, counts, anyLabel) {
  const current = select.value;
  const options = values.map((v) => node("option", { value: v },
    counts && counts.has(v) ? `${v} (${fmtInt(counts.get(v))})` : v));
  select.replaceChildren(...(anyLabel != null ? [node("option", { value: "" }, anyLabel)] : []), ...options);
  if ([...select.options].some((o) => o.value === current)) select.value = current;
}

// Offer the values the loaded documents have, with counts; Debian's lists while nothing is
// loaded (an empty collection, before the first add).
function fillFilterChoices(client) {
  let sections = DEBIAN_SECTIONS;
  let priorities = DEBIAN_PRIORITIES;
  let sectionCounts = null;
  let priorityCounts = null;
  const ids = client.size ? client.ids() : null;
  if (ids) {
    sectionCounts = new Map();
    priorityCounts = new Map();
    for (const id of ids) {
      const m = (client.get(id) || {}).metadata || {};
      if (typeof m.section === "string") sectionCounts.set(m.section, (sectionCounts.get(m.section) || 0) + 1);
      if (typeof m.priority === "string") priorityCounts.set(m.priority, (priorityCounts.get(m.priority) || 0) + 1);
    }
    if (sectionCounts.size) sections = [...sectionCounts.keys()].sort();
    if (priorityCounts.size) {
      priorities = [...priorityCounts.keys()].sort((a, b) =>
        (DEBIAN_PRIORITIES.indexOf(a) + 99) % 99 - (DEBIAN_PRIORITIES.indexOf(b) + 99) % 99 || a.localeCompare(b));
    }
  }
  fillSelect(el.section, sections, sectionCounts, "any section");
  fillSelect(el.priority, priorities, priorityCounts, "any priority");
  fillSelect(el.addSection, [...new Set([...sections, ...DEBIAN_SECTIONS])].sort(), null, null);
  el.addSection.value = "graphics";
  fillSelect(el.addPriority, DEBIAN_PRIORITIES, null, null);
  el.addPriority.value = "optional";
}

function readSize(input) {
  if (input.value.trim() === "") return null;
  const n = Number(input.value);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

function currentFilter() {
  const f = {};
  if (el.section.value) f.section = el.section.value;
  if (el.priority.value) f.priority = el.priority.value;
  const min = readSize(el.sizeMin);
  const max = readSize(el.sizeMax);
  if (min != null || max != null) {
    f.installedSizeKiB = {};
    if (min != null) f.installedSizeKiB.$gte = min;
    if (max != null) f.installedSizeKiB.$lte = max;
  }
  return Object.keys(f).length ? f : undefined;
}

const currentMode = () => el.form.querySelector('input[name="mode"]:checked').value;

// ---------------------------------------------------------------------------------------------
// Search

function stemsOf(query) {
  const stems = new Set();
  for (const w of query.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (w.length < 2 || STOPWORDS.has(w)) continue;
    // "images" finds "image" and "imaging", "resize" finds "resizing": a crude English stem.
    const stem = w.replace(/(ing|ed|es|s|e)$/, "");
    stems.add(stem.length >= 3 ? stem : w);
  }
  return [...stems];
}

// The text with the query's words marked, built as nodes (never as HTML from the document).
function highlighted(text, stems) {
  const p = node("p", { class: "hit-text" });
  if (!stems.length) { p.textContent = text; return p; }
  const escaped = stems.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const re = new RegExp(`(?<![\\p{L}\\p{N}])(?:${escaped.join("|")})[\\p{L}\\p{N}]*`, "giu");
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) p.append(text.slice(last, m.index));
    p.append(node("mark", {}, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) p.append(text.slice(last));
  return p;
}

function metaChips(m) {
  const chips = [];
  if (m.section) chips.push(`section: ${m.section}`);
  if (m.priority) chips.push(`priority: ${m.priority}`);
  if (m.version) chips.push(`version ${m.version}`);
  if (m.architecture) chips.push(m.architecture);
  if (typeof m.installedSizeKiB === "number") chips.push(`installed ${fmtKiB(m.installedSizeKiB)}`);
  if (Array.isArray(m.tags) && m.tags.length) {
    chips.push(...m.tags.slice(0, 3));
    if (m.tags.length > 3) chips.push(`+${m.tags.length - 3} tags`);
  }
  return node("ul", { class: "meta", "aria-label": "metadata" }, ...chips.map((c) => node("li", {}, c)));
}

function renderHits(hits, query) {
  const stems = stemsOf(query);
  if (!hits.length) {
    el.results.replaceChildren(node("li", { class: "empty" },
      currentFilter() ? "No document matches these filters." : "No results."));
    return;
  }
  el.results.replaceChildren(...hits.map((h) => {
    const m = h.metadata || {};
    const remove = node("button", {
      type: "button", class: "remove", "aria-label": `Remove ${h.id}`,
      title: state.writable ? `Remove ${h.id} from the collection` : "Removing needs write access (the writer link)",
    }, "Remove");
    remove.disabled = !state.writable;
    remove.addEventListener("click", () => removeDocument(h.id));
    return node("li", {
      dataset: {
        id: h.id, score: String(h.score), section: m.section ?? "", priority: m.priority ?? "",
        size: m.installedSizeKiB ?? "",
      },
    },
    node("div", { class: "hit-head" },
      node("span", { class: "hit-id" }, h.id),
      node("span", { class: "score", title: "cosine similarity" },
        node("meter", { min: 0, max: 1, value: Math.max(0, h.score), "aria-hidden": "true" }),
        `score ${h.score.toFixed(3)}`),
      remove),
    highlighted(h.text || "", stems),
    metaChips(m));
  }));
}

// Bedrock's throttling is retried inside the package; the page shows that it is happening
// (stats.throttleRetries grows) as a notice, not as an error.
function watchThrottling(client, what) {
  const start = client.stats.throttleRetries;
  let seen = 0;
  const timer = setInterval(() => {
    const n = client.stats.throttleRetries - start;
    if (n > seen) {
      seen = n;
      showNotice(`Bedrock is throttling requests: retrying ${what} (${n} ${n === 1 ? "retry" : "retries"} so far)…`, { kind: "throttle" });
    }
  }, 100);
  return () => {
    clearInterval(timer);
    const n = client.stats.throttleRetries - start;
    if (n > 0) {
      showNotice(`Bedrock throttled ${what}; it went through after ${n} ${n === 1 ? "retry" : "retries"}.`, { kind: "throttle", hideAfterMs: 8000 });
    }
    return n;
  };
}

async function runSearch() {
  const client = state.client;
  if (!client || !state.loaded) return;
  const seq = ++state.searchSeq;
  const query = el.q.value.trim();
  if (!query) {
    state.lastHits = [];
    state.lastQuery = "";
    state.lastQueryVector = null;
    el.results.replaceChildren();
    el.timing.textContent = "";
    state.renderedSeq = seq;
    drawMap();
    return;
  }
  const filter = currentFilter();
  const mode = currentMode();
  const stopWatching = watchThrottling(client, "the query");
  try {
    const hitsBefore = client.stats.queryCacheHits;
    const t0 = performance.now();
    const vector = await client.embed(query);
    const t1 = performance.now();
    const cached = client.stats.queryCacheHits > hitsBefore;
    const hits = await client.search(vector, { k: K, filter, mode });
    const t2 = performance.now();
    if (seq !== state.searchSeq) return; // a newer query is on its way
    clearError();
    state.lastHits = hits;
    state.lastQuery = query;
    state.lastQueryVector = vector;
    state.lastTiming = { embedMs: t1 - t0, rankMs: t2 - t1, cached, mode };
    renderHits(hits, query);
    state.renderedSeq = seq;
    el.timing.textContent = `${hits.length} results · ranking ${fmtMs(t2 - t1)} (${mode}, `
      + `${fmtInt(client.size)} documents) · embedding ${fmtMs(t1 - t0)} `
      + `(${cached ? "cached" : `Bedrock${client.stats.bedrockRoute === "relay" ? " via relay" : ""}`})`;
    el.timing.dataset.mode = mode;
    drawMap();
  } catch (e) {
    if (seq === state.searchSeq) {
      state.failedSeq = seq;
      showError(e, "Search failed");
    }
  } finally {
    stopWatching();
    updateFacts();
  }
}

let debounceTimer = 0;
function scheduleSearch() {
  clearTimeout(debounceTimer);
  debounceTimer = setTimeout(runSearch, DEBOUNCE_MS);
}

// ---------------------------------------------------------------------------------------------
// Writing

function setWritable(client) {
  state.writable = client.access === "write";
  el.addFields.disabled = !state.writable;
  if (state.writable) {
    el.writeWhy.textContent = "These credentials may write: a new document is embedded with Bedrock, "
      + "written to S3 as a shard and published in the manifest.";
  } else {
    el.writeWhy.textContent = "Read-only: these credentials cannot write to the bucket. Open the "
      + "writer link that `make demo` prints (it ends in #token=…) to add and remove documents.";
  }
}

async function addDocument(doc) {
  const client = state.client;
  const stopWatching = watchThrottling(client, "the new document's embedding");
  el.writeResult.textContent = `Embedding and publishing ${doc.id}…`;
  try {
    const report = await client.add([doc]);
    clearError();
    el.writeResult.textContent = `Added ${doc.id}: published in generation ${report.generation} `
      + `(shard ${report.shard}). It is searchable now.`;
    computeMap();
    if (el.q.value.trim()) await runSearch();
    return report;
  } catch (e) {
    el.writeResult.textContent = `${doc.id} was not added.`;
    showError(e, `Adding ${doc.id} failed`);
    throw e;
  } finally {
    stopWatching();
    updateFacts();
  }
}

async function removeDocument(id) {
  const client = state.client;
  el.writeResult.textContent = `Removing ${id}…`;
  try {
    const report = await client.remove([id]);
    clearError();
    el.writeResult.textContent = `Removed ${id}: tombstone published in generation ${report.generation}.`;
    computeMap();
    await runSearch();
    return report;
  } catch (e) {
    el.writeResult.textContent = `${id} was not removed.`;
    showError(e, `Removing ${id} failed`);
    throw e;
  } finally {
    updateFacts();
  }
}

async function onAddSubmit(event) {
  event.preventDefault();
  const id = el.addId.value.trim();
  const text = el.addText.value.trim();
  if (!id || !text) return;
  const metadata = { section: el.addSection.value, priority: el.addPriority.value };
  const size = readSize(el.addSize);
  if (size != null) metadata.installedSizeKiB = size;
  const button = $("add-button");
  button.disabled = true;
  try {
    await addDocument({ id, text, metadata });
    el.addForm.reset();
    el.addSection.value = metadata.section;
    el.addPriority.value = metadata.priority;
  } catch {
    // shown by addDocument
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// The map: every document at its first two principal components, from the package (wasm).

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
  "#e377c2", "#bcbd22"];

// The map: the package's pca2() places every document on the plane of its first two principal
// components, in wasm. It takes a few passes over the vectors, so it is computed after a load,
// add or remove, never per query.
function computeMap() {
  const client = state.client;
  const started = performance.now();
  let p;
  try {
    p = client.pca2();
  } catch (e) {
    state.map = null;
    state.mapNote = `No map: ${e.message}`;
    el.mapCaption.textContent = state.mapNote;
    drawMap();
    return;
  }
  const ms = performance.now() - started;
  const n = p.ids.length;
  let minX = Infinity; let maxX = -Infinity; let minY = Infinity; let maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    const x = p.points[2 * i]; const y = p.points[2 * i + 1];
    if (x < minX) minX = x; if (x > maxX) maxX = x;
    if (y < minY) minY = y; if (y > maxY) maxY = y;
  }
  // Colour the largest sections; the rest are grey.
  const counts = new Map();
  const sections = p.ids.map((id) => ((client.get(id) || {}).metadata || {}).section || "");
  for (const sec of sections) counts.set(sec, (counts.get(sec) || 0) + 1);
  const top = [...counts.entries()].filter(([sec]) => sec).sort((a, b) => b[1] - a[1]).slice(0, PALETTE.length);
  const colorOf = new Map(top.map(([sec], i) => [sec, PALETTE[i]]));
  state.map = {
    ...p, sections, colorOf,
    index: new Map(p.ids.map((id, i) => [id, i])),
    bounds: { minX, maxX, minY, maxY },
  };
  const share = (100 * (p.explained[0] + p.explained[1])).toFixed(0);
  state.mapNote = `${fmtInt(n)} documents, placed in ${fmtMs(ms)} (PCA in wasm; the two axes explain ${share}% of the variance). The query (★) and its hits (numbered) light up.`;
  el.mapCaption.replaceChildren(document.createTextNode(state.mapNote), legend(top.map(([sec]) => sec), colorOf));
  drawMap();
}

function legend(sections, colorOf) {
  const items = sections.map((s) => {
    const swatch = node("span", { class: "swatch", "aria-hidden": "true" });
    swatch.style.background = colorOf.get(s); // CSSOM, allowed by the site's CSP (style-src 'self')
    return node("li", {}, swatch, s);
  });
  items.push(node("li", {}, node("span", { class: "swatch other", "aria-hidden": "true" }), "other sections"));
  return node("ul", { class: "legend", "aria-label": "colours by section" }, ...items);
}

function projectQuery(vector) {
  const m = state.map;
  if (!m || !vector || vector.length !== m.mean.length) return null;
  const d = m.mean.length;
  // Stored vectors are unit length; so must the query be to land among them.
  let norm = 0;
  for (let i = 0; i < d; i++) norm += vector[i] * vector[i];
  norm = Math.sqrt(norm) || 1;
  let x = 0; let y = 0;
  for (let i = 0; i < d; i++) {
    const c = vector[i] / norm - m.mean[i];
    x += c * m.components[i];
    y += c * m.components[d + i];
  }
  return [x, y];
}

// Map coordinates to canvas pixels (CSS px), keeping a margin; the query may fall outside the
// documents' extent, so it is clamped to the edge.
function placer(m, w, h) {
  const pad = 14;
  const { minX, maxX, minY, maxY } = m.bounds;
  const sx = (w - 2 * pad) / Math.max(1e-9, maxX - minX);
  const sy = (h - 2 * pad) / Math.max(1e-9, maxY - minY);
  const clampX = (v) => Math.min(w - pad, Math.max(pad, v));
  const clampY = (v) => Math.min(h - pad, Math.max(pad, v));
  return (x, y) => [clampX(pad + (x - minX) * sx), clampY(h - pad - (y - minY) * sy)];
}

/** Where a document is drawn on the map canvas, in CSS pixels, or null without a map. */
function mapPoint(id) {
  const m = state.map;
  const i = m && m.index.get(id);
  if (i === undefined || i === null) return null;
  return placer(m, el.map.clientWidth, el.map.clientHeight)(m.points[2 * i], m.points[2 * i + 1]);
}

function drawMap() {
  const canvas = el.map;
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 480;
  const h = canvas.clientHeight || 360;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const style = getComputedStyle(document.documentElement);
  const text = style.getPropertyValue("--text").trim() || "#000";
  const m = state.map;
  if (!m) {
    ctx.fillStyle = style.getPropertyValue("--muted").trim() || "#555";
    ctx.font = "14px system-ui, sans-serif";
    ctx.fillText(state.loaded ? "No map" : "Loading…", 16, 28);
    return;
  }
  const at = placer(m, w, h);
  const dimmed = state.lastHits.length > 0;
  ctx.globalAlpha = dimmed ? 0.35 : 0.7;
  for (let i = 0; i < m.ids.length; i++) {
    const [px, py] = at(m.points[2 * i], m.points[2 * i + 1]);
    ctx.fillStyle = m.colorOf.get(m.sections[i]) || "#8a939e";
    ctx.fillRect(px - 1.5, py - 1.5, 3, 3);
  }
  ctx.globalAlpha = 1;
  const q = projectQuery(state.lastQueryVector);
  const qp = q ? at(q[0], q[1]) : null;
  const hits = state.lastHits.map((hit) => m.index.get(hit.id)).filter((i) => i !== undefined);
  if (qp) {
    ctx.strokeStyle = text;
    ctx.globalAlpha = 0.35;
    ctx.lineWidth = 1;
    for (const i of hits) {
      const [px, py] = at(m.points[2 * i], m.points[2 * i + 1]);
      ctx.beginPath(); ctx.moveTo(qp[0], qp[1]); ctx.lineTo(px, py); ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }
  ctx.font = "bold 11px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  hits.forEach((i, rank) => {
    const [px, py] = at(m.points[2 * i], m.points[2 * i + 1]);
    ctx.beginPath();
    ctx.arc(px, py, 8, 0, 2 * Math.PI);
    ctx.fillStyle = "#ffb000";
    ctx.fill();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#1d232b";
    ctx.stroke();
    ctx.fillStyle = "#1d232b";
    ctx.fillText(String(rank + 1), px, py + 0.5);
  });
  if (qp) star(ctx, qp[0], qp[1], 11, "#d62728", text);
}

function star(ctx, x, y, r, fill, stroke) {
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const a = -Math.PI / 2 + (i * Math.PI) / 5;
    const rr = i % 2 ? r * 0.45 : r;
    ctx.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a));
  }
  ctx.closePath();
  ctx.fillStyle = fill;
  ctx.fill();
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = stroke;
  ctx.stroke();
}

// ---------------------------------------------------------------------------------------------
// Facts

function updateFacts() {
  const c = state.client;
  if (!c) return;
  const s = c.stats;
  const rows = [
    ["documents", fmtInt(c.size)],
    ["collection", `s3://${c.bucket}/${c.prefix}`],
    ["model", `${c.modelId}${c.dims ? `, ${c.dims} dims, ${c.dtype}` : ""}`],
    ["generation", c.generation ?? "—"],
    ["credentials", c.access === "write" ? "read-write" : "read-only"],
    ["Bedrock", `${s.bedrockRoute === "relay" ? "through the presign relay" : "direct"}, ${plural(s.bedrockRequests, "call")}`],
    ["query cache", `${plural(s.queryCacheHits, "hit")}, ${plural(s.queryCacheMisses, "miss", "misses")}`],
    ["retries", `${fmtInt(s.throttleRetries)} throttled, ${fmtInt(s.otherRetries)} other`],
    ["credential fetches", fmtInt(s.credentialFetches)],
  ];
  if (state.lastLoad) {
    rows.splice(1, 0, ["last load", `${state.lastLoad.shards} shards, ${state.lastLoad.cachedShards} from cache, ${state.loadSeconds.toFixed(2)} s`]);
  }
  el.facts.replaceChildren(...rows.flatMap(([k, v]) => [node("dt", {}, k), node("dd", { dataset: { fact: k } }, String(v))]));
  el.facts.dataset.route = s.bedrockRoute;
}

// ---------------------------------------------------------------------------------------------
// Start

async function main() {
  let pkg;
  try {
    pkg = await import(PKG);
    await pkg.default();
  } catch (e) {
    setStatus("Could not start.");
    showError(new Error(`cannot load the s3vec package from ${PKG} (${e.message}): build it with \`make pkg\``), "Starting failed");
    return;
  }
  let config;
  try {
    config = await readConfig();
  } catch (e) {
    setStatus("Not configured.");
    showError(e, "Configuration");
    return;
  }
  state.config = config;
  const token = takeWriteToken();
  setStatus("Getting credentials…");
  let client;
  try {
    client = await connect(pkg.Client, config, token);
  } catch (e) {
    setStatus("Not connected.");
    showError(e, "Connecting failed");
    return;
  }
  state.client = client;
  setWritable(client);
  updateFacts();
  setStatus(`Connected (${client.access === "write" ? "read-write" : "read-only"}) to s3://${client.bucket}/${client.prefix}. Loading…`);
  try {
    await load(client);
  } catch (e) {
    el.loading.classList.add("done");
    setStatus(e && e.code === "NoCollection" ? "The collection is empty." : "Loading failed.");
    showError(e, "Loading failed");
    fillFilterChoices(client);
    return;
  }
  state.loaded = true;
  fillFilterChoices(client);
  el.q.disabled = false;
  setStatus(`Ready: ${fmtInt(client.size)} documents, ${client.access === "write" ? "read-write" : "read-only"}.`);
  updateFacts();
  el.q.focus();
  computeMap();
  document.body.dataset.ready = "true";
  if (el.q.value.trim()) runSearch();
}

el.q.addEventListener("input", scheduleSearch);
el.form.addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(debounceTimer); runSearch(); });
for (const input of [el.section, el.priority, ...el.form.querySelectorAll('input[name="mode"]')]) {
  input.addEventListener("change", runSearch);
}
for (const input of [el.sizeMin, el.sizeMax]) input.addEventListener("input", scheduleSearch);
el.clear.addEventListener("click", () => {
  el.section.value = "";
  el.priority.value = "";
  el.sizeMin.value = "";
  el.sizeMax.value = "";
  runSearch();
});
el.addForm.addEventListener("submit", onAddSubmit);
new ResizeObserver(() => drawMap()).observe(el.map);

window.s3vecDemo = {
  state,
  get client() { return state.client; },
  search: runSearch,
  addDocument,
  removeDocument,
  mapPoint,
};

main();
