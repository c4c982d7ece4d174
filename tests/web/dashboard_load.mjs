// The dashboard under load (issue 28): `tessera bench-serve` with 256 concurrent streams against
// `tessera serve`, in rounds with nothing watching, with a plain client following
// /v1/engine/events, and with the dashboard open in headless Chromium (rotating order). Reports
// each round's output tokens/s (bench-serve's), the medians and their ratios, the machine's load
// average, the browser's CPU use, and what the page measured about itself while the engine was
// busy: the gaps between snapshots arriving, the time to draw one, and its event loop's lag (how
// late a 100 ms timer fires: what a click would wait for). Not a ctest (minutes of CPU);
// docs/serving.md has the numbers.
//
// Usage: node dashboard_load.mjs TESSERA_BINARY MODEL [ROUNDS=3] [OUTPUT_LEN=32]
// (npm ci in tests/web first). SCREENSHOT_DIR: the last dashboard round's screenshot goes there.
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { promisify } from "node:util";
import { launchBrowser, startServer } from "./harness.mjs";

const [binary, model, roundsArg, outputLenArg] = process.argv.slice(2);
const rounds = Number(roundsArg || 3), outputLen = Number(outputLenArg || 32);
const streams = 256;
const screenshots = process.env.SCREENSHOT_DIR;
const run = promisify(execFile);


async function benchServe(base) {
  const { stdout } = await run(binary, ["bench-serve", "--base-url", base, "--num-prompts", String(streams),
                                        "--max-concurrency", String(streams), "--input-len", "32",
                                        "--output-len", String(outputLen), "-o", "json"],
                               { maxBuffer: 64 << 20 });
  const report = JSON.parse(stdout);
  if (report.failed > 0) throw new Error(report.failed + " requests failed: " + report.errors.find((e) => e));
  return report.output_throughput;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN; };
const percentile = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN; };
const fmt = (x, digits = 1) => x.toFixed(digits);

const { server, base } = await startServer(binary, model, ["--max-num-seqs", String(streams), "--quiet"]);
const browser = await launchBrowser();
// CPU seconds (user + system) of the Chromium processes this script started.
function browserCpuSeconds() {
  const parent = new Map(), ticks = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync("/proc/" + entry + "/stat", "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parent.set(Number(entry), Number(fields[1]));
      if (/chrom/i.test(stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")))) {
        ticks.set(Number(entry), Number(fields[11]) + Number(fields[12]));
      }
    } catch { /* gone meanwhile */ }
  }
  let total = 0;
  for (const [pid, t] of ticks) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p === process.pid) { total += t; break; }
    }
  }
  return total / 100;  // USER_HZ
}

// Arms, in a rotating order each round: nothing watching; a plain client following
// /v1/engine/events (the server's side of the dashboard alone); the dashboard open in Chromium.
const arms = ["none", "events", "dashboard"];
const rates = { none: [], events: [], dashboard: [] };
const page = { gapMs: [], drawMs: [], lagMs: [], feeds: new Set(), cpuShare: [] };
try {
  await benchServe(base);  // warm-up round, not counted
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < arms.length; k++) {
      const arm = arms[(round + k) % arms.length];
      const load = loadavg()[0];
      let dash = null, follower = null;
      if (arm === "events") {
        follower = new AbortController();
        fetch(base + "/v1/engine/events", { signal: follower.signal })
          .then(async (r) => { for (const reader = r.body.getReader(); !(await reader.read()).done;); })
          .catch(() => {});
      }
      if (arm === "dashboard") {
        dash = await browser.newPage({ viewport: { width: 1100, height: 900 } });
        await dash.goto(base + "/dashboard");
        await dash.waitForFunction(() => window.tesseraDashboard.updates >= 2, null, { timeout: 20000 });
        // Event-loop lag while the engine is busy: a 100 ms timer's lateness, what a click would
        // wait for (a cheap probe: an animation-frame loop would itself keep Chromium drawing).
        await dash.evaluate(() => {
          window.lagMs = [];
          const probe = () => {
            const due = performance.now() + 100;
            setTimeout(() => { window.lagMs.push(performance.now() - due); probe(); }, 100);
          };
          probe();
          window.tesseraDashboard.gapMs.length = 0;
          window.tesseraDashboard.drawMs.length = 0;
        });
      }
      const shot = dash && screenshots && round === rounds - 1
        ? new Promise((r) => setTimeout(r, 8000)).then(() => dash.screenshot({ path: screenshots + "/dashboard.png", fullPage: true }))
        : null;
      const cpuBefore = browserCpuSeconds(), start = Date.now();
      const rate = await benchServe(base);
      const browserShare = (browserCpuSeconds() - cpuBefore) / ((Date.now() - start) / 1000);
      if (shot) await shot;
      rates[arm].push(rate);
      let note = "";
      if (follower) follower.abort();
      if (dash) {
        const m = await dash.evaluate(() => ({ gapMs: window.tesseraDashboard.gapMs, drawMs: window.tesseraDashboard.drawMs,
                                               lagMs: window.lagMs, feed: window.tesseraDashboard.feed }));
        page.gapMs.push(...m.gapMs); page.drawMs.push(...m.drawMs); page.lagMs.push(...m.lagMs);
        page.feeds.add(m.feed);
        page.cpuShare.push(browserShare);
        note = `  page: ${m.gapMs.length} snapshots, median gap ${fmt(median(m.gapMs))} ms, median draw ${fmt(median(m.drawMs), 2)} ms, ` +
               `event-loop lag p99 ${fmt(percentile(m.lagMs, 0.99))} ms, max ${fmt(Math.max(...m.lagMs))} ms (${m.feed}); ` +
               `browser CPU ${fmt(100 * browserShare)}% of a core`;
        await dash.close();
      }
      console.log(`round ${round + 1} ${arm.padEnd(9)}: ${fmt(rate)} output tok/s (load ${fmt(load, 2)})${note}`);
    }
  }
  const none = median(rates.none);
  console.log(`median output tok/s: nothing watching ${fmt(none)}, events follower ${fmt(median(rates.events))} ` +
              `(x${fmt(median(rates.events) / none, 3)}), dashboard ${fmt(median(rates.dashboard))} (x${fmt(median(rates.dashboard) / none, 3)})`);
  console.log(`page under load: snapshot gap median ${fmt(median(page.gapMs))} ms, p99 ${fmt(percentile(page.gapMs, 0.99))} ms; ` +
              `draw median ${fmt(median(page.drawMs), 2)} ms, p99 ${fmt(percentile(page.drawMs, 0.99), 2)} ms; ` +
              `event-loop lag median ${fmt(median(page.lagMs))} ms, p99 ${fmt(percentile(page.lagMs, 0.99))} ms; ` +
              `browser CPU median ${fmt(100 * median(page.cpuShare))}% of a core; feed ${[...page.feeds].join(",")}`);
} finally {
  await browser.close();
  server.kill("SIGTERM");
}
