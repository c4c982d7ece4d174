// Tessera dashboard: polls GET /v1/engine/stats and draws the KV pool and a few time series.
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

async function poll() {
  const key = $("api-key").value.trim();
  try {
    const response = await fetch("/v1/engine/stats", { headers: key ? { Authorization: "Bearer " + key } : {}, cache: "no-store" });
    if (response.status === 401) throw new Error("The server wants an API key: enter it below.");
    if (!response.ok) throw new Error("Error " + response.status + " from /v1/engine/stats");
    update(await response.json());
    $("status").textContent = "";
  } catch (e) {
    $("status").textContent = e instanceof TypeError ? "The server cannot be reached; retrying." : e.message;
  }
  setTimeout(poll, document.hidden ? 4 * POLL_MS : POLL_MS);
}

const savedKey = localStorage.getItem("tessera.api-key");
if (savedKey !== null) $("api-key").value = savedKey;
$("api-key").addEventListener("change", () => localStorage.setItem("tessera.api-key", $("api-key").value));
poll();
