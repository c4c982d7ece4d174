// Tessera dashboard: follows GET /v1/engine/events (falling back to polling /v1/engine/stats)
// and draws the KV pool and a few time series.
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 500;
const HISTORY = 240;  // samples kept: two minutes at POLL_MS
const series = { rate: [], running: [], waiting: [] };
let previous = null;

const color = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

// A canvas sized to its CSS box at the screen's pixel density; returns its 2D context and size.
function surface(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.height / (canvas.dataset.ratio || 1);
  canvas.dataset.ratio = ratio;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  canvas.style.height = height + "px";
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  return { ctx, width, height };
}

// One cell per block (several per cell when the pool is larger than the canvas holds).
function drawBlocks(kv) {
  const { ctx, width, height } = surface($("blocks"));
  const total = Math.max(kv.total, 1);
  const cell = 9, gap = 1;
  const columns = Math.max(Math.floor(width / (cell + gap)), 1);
  const rows = Math.max(Math.floor(height / (cell + gap)), 1);
  const perCell = Math.max(Math.ceil(total / (columns * rows)), 1);
  const cells = Math.ceil(total / perCell);
  const usedCells = Math.ceil(kv.in_use / perCell);
  const used = color("--used"), free = color("--free");
  for (let i = 0; i < cells; i++) {
    ctx.fillStyle = i < usedCells ? used : free;
    ctx.fillRect((i % columns) * (cell + gap), Math.floor(i / columns) * (cell + gap), cell, cell);
  }
  $("block-numbers").textContent = kv.in_use + " in use · " + kv.free + " free · " + kv.cached + " holding a cached prefix · " +
    "peak " + kv.peak_in_use + " of " + kv.total + " (" + kv.block_size + " tokens each" + (perCell > 1 ? ", " + perCell + " blocks per cell" : "") + ")";
}

function drawLines(canvas, lines) {
  const { ctx, width, height } = surface(canvas);
  let max = 1;
  for (const line of lines) for (const v of line.values) max = Math.max(max, v);
  const top = 14, bottom = height - 4;
  ctx.strokeStyle = color("--border");
  ctx.fillStyle = color("--muted");
  ctx.font = "11px system-ui, sans-serif";
  ctx.beginPath(); ctx.moveTo(0, top); ctx.lineTo(width, top); ctx.moveTo(0, bottom); ctx.lineTo(width, bottom); ctx.stroke();
  ctx.fillText(max.toFixed(max < 10 ? 1 : 0), 2, top - 3);
  for (const line of lines) {
    ctx.strokeStyle = line.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    line.values.forEach((v, i) => {
      const x = width - (line.values.length - 1 - i) * (width / (HISTORY - 1));
      const y = bottom - (v / max) * (bottom - top);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
}

const formatSeconds = (s) => (s >= 1 ? s.toFixed(s >= 10 ? 0 : 1) + " s" : Math.round(s * 1000 * 10) / 10 + " ms");

// A latency distribution since the server started: one bar per bucket (share of observations),
// labelled with the bucket's upper bound; empty buckets at either end are left out.
function drawHistogram(canvas, meanLabel, h) {
  const { ctx, width, height } = surface(canvas);
  meanLabel.textContent = h.count ? "mean " + formatSeconds(h.sum_s / h.count) + " · " + h.count + " observed" : "no data yet";
  if (!h.count) return;
  let first = h.counts.findIndex((c) => c > 0), last = h.counts.length - 1;
  while (last > first && h.counts[last] === 0) last--;
  first = Math.max(first - 1, 0);
  const bars = last - first + 1, max = Math.max(...h.counts);
  const slot = width / bars, bottom = height - 16;
  ctx.font = "10px system-ui, sans-serif";
  ctx.textAlign = "center";
  for (let i = first; i <= last; i++) {
    const x = (i - first) * slot, barHeight = (h.counts[i] / max) * (bottom - 4);
    ctx.fillStyle = color("--used");
    ctx.fillRect(x + 2, bottom - barHeight, Math.max(slot - 4, 1), barHeight);
    ctx.fillStyle = color("--muted");
    const bound = i < h.upper_bounds_s.length ? "≤" + formatSeconds(h.upper_bounds_s[i]) : ">" + formatSeconds(h.upper_bounds_s[i - 1]);
    if (slot > 34 || (i - first) % 2 === 0) ctx.fillText(bound, x + slot / 2, height - 4);
  }
}

function push(name, value) {
  series[name].push(value);
  if (series[name].length > HISTORY) series[name].shift();
}

function update(stats) {
  $("model").textContent = stats.model + " · up " + Math.round(stats.uptime_s) + " s";
  drawBlocks(stats.kv_blocks);
  $("running").textContent = stats.requests.running;
  $("waiting").textContent = stats.requests.waiting;
  $("preemptions").textContent = stats.preemptions;
  $("hit-rate").textContent = (100 * stats.prefix_cache.hit_rate).toFixed(1) + "%";
  $("cached").textContent = stats.kv_blocks.cached;
  $("output-tokens").textContent = stats.tokens.output;
  $("prompt-tokens").textContent = stats.tokens.prompt;
  $("steps").textContent = stats.steps;
  if (previous) {
    const seconds = (stats.time_ms - previous.time_ms) / 1000;
    const rate = seconds > 0 ? Math.max(stats.tokens.output - previous.tokens.output, 0) / seconds : 0;
    push("rate", rate);
    $("rate").textContent = rate.toFixed(1) + " now";
  }
  push("running", stats.requests.running);
  push("waiting", stats.requests.waiting);
  previous = stats;
  drawLines($("rate-chart"), [{ values: series.rate, color: color("--used") }]);
  drawHistogram($("ttft-chart"), $("ttft-mean"), stats.latency.time_to_first_token);
  drawHistogram($("itl-chart"), $("itl-mean"), stats.latency.inter_token);
  drawLines($("requests-chart"), [{ values: series.running, color: color("--used") }, { values: series.waiting, color: color("--waiting") }]);
}

// What the page measures about itself (read by tests/web/dashboard_load.mjs): how snapshots
// arrive and how long drawing them takes, so "the page stays responsive" is a number.
const timing = { feed: "", updates: 0, drawMs: [], gapMs: [], lastArrival: 0 };
window.tesseraDashboard = timing;
const keep = (list, value) => { list.push(value); if (list.length > HISTORY) list.shift(); };

let pending = null;  // the newest snapshot not drawn yet: drawn at the next frame, older ones dropped
function receive(stats) {
  const now = performance.now();
  if (timing.lastArrival) keep(timing.gapMs, now - timing.lastArrival);
  timing.lastArrival = now;
  const first = pending === null;
  pending = stats;
  if (first) requestAnimationFrame(() => {
    const start = performance.now();
    const latest = pending;
    pending = null;
    update(latest);
    keep(timing.drawMs, performance.now() - start);
    timing.updates++;
  });
}

function setStatus(message) { $("status").textContent = message; }
function setFeed(feed) {
  timing.feed = feed;
  $("feed").textContent = feed === "events" ? "GET /v1/engine/events, pushed twice a second"
                                            : "GET /v1/engine/stats, polled twice a second";
}
const authHeaders = () => {
  const key = $("api-key").value.trim();
  return key ? { Authorization: "Bearer " + key } : {};
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let streamAbort = null;

// The live feed: Server-Sent Events read through fetch (so the API key can go in a header, which
// EventSource cannot send). Resolves when the stream ends or is not offered (an older server,
// 503 when too many streams are open); throws on 401 and network errors.
async function stream() {
  streamAbort = new AbortController();
  const response = await fetch("/v1/engine/events?interval_ms=" + POLL_MS,
                               { headers: authHeaders(), cache: "no-store", signal: streamAbort.signal });
  if (response.status === 401) throw new Error("The server wants an API key: enter it below.");
  if (!response.ok || !response.body) return;
  setFeed("events");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = block.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trimStart()).join("\n");
      if (data) {
        receive(JSON.parse(data));
        setStatus("");
      }
    }
  }
}

async function pollOnce() {
  const response = await fetch("/v1/engine/stats", { headers: authHeaders(), cache: "no-store" });
  if (response.status === 401) throw new Error("The server wants an API key: enter it below.");
  if (!response.ok) throw new Error("Error " + response.status + " from /v1/engine/stats");
  receive(await response.json());
  setStatus("");
}

const describe = (e) => (e instanceof TypeError ? "The server cannot be reached; retrying." : e.message);

// The stream while it lasts; polling while it is not available, trying the stream again every
// few seconds.
async function run() {
  for (;;) {
    try {
      await stream();
    } catch (e) {
      if (e.name !== "AbortError") setStatus(describe(e));
    }
    setFeed("polling");
    for (const until = Date.now() + 5000; Date.now() < until;) {
      try {
        await pollOnce();
      } catch (e) {
        setStatus(describe(e));
      }
      await sleep(document.hidden ? 4 * POLL_MS : POLL_MS);
    }
  }
}

const savedKey = localStorage.getItem("tessera.api-key");
if (savedKey !== null) $("api-key").value = savedKey;
$("api-key").addEventListener("change", () => {
  localStorage.setItem("tessera.api-key", $("api-key").value);
  if (streamAbort) streamAbort.abort();  // reconnect with the new key
});
run();
