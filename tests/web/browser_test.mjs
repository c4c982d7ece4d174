// The chat page and dashboard in a real browser (Debian's headless Chromium, driven by
// playwright-core) against a real `tessera serve`: the chat page streams a reply, the dashboard
// follows the event stream and shows KV blocks in use while a long request streams and none after
// it; an empty prompt, a 400 and a server that is gone each show a clear message. The chat page's
// screenshot goes to $SCREENSHOT_DIR when set (docs/images/ in the README; the dashboard's comes
// from dashboard_load.mjs, under 256 streams).
//
// Usage: node browser_test.mjs TESSERA_BINARY MODEL   (npm ci in tests/web first). MODEL must be
// slow enough that 8 streams of 400 tokens last a few dashboard polls: the tiny story model is too
// fast; a random-weight `tessera synth --shape smollm-135m --type Q4_0` model (seconds) does.
import { launchBrowser, startServer } from "./harness.mjs";

const [binary, model] = process.argv.slice(2);
const screenshots = process.env.SCREENSHOT_DIR;
const check = (ok, what) => { if (!ok) throw new Error("FAIL: " + what); console.log("ok: " + what); };

const { server, base } = await startServer(binary, model, ["-t", "1"]);
const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 720 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));

  // Chat: an empty prompt is refused with a message, a real one streams a reply with its numbers.
  await page.goto(base + "/");
  await page.click("#send");
  check((await page.textContent("#status")).includes("Type a message"), "empty prompt shows a message");
  await page.fill("#system", "You are a storyteller.");
  await page.fill("#max-tokens", "32");
  await page.fill("#prompt", "Tell me a story about a cat.");
  await page.keyboard.press("Enter");
  await page.waitForSelector(".message.assistant .meta:has-text('tokens')", { timeout: 20000 }).catch(async (e) => {
    console.log("status:", await page.textContent("#status"), "messages:", await page.innerHTML("#messages"));
    throw e;
  });
  const reply = await page.textContent(".message.assistant .body");
  check(/[A-Za-z]{2,}/.test(reply), "the chat page shows the streamed reply");
  check(/tok\/s/.test(await page.textContent(".message.assistant .meta")), "the reply shows tokens/s");
  await page.fill("#prompt", "And then?");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll(".message.assistant .meta").length === 2 &&
    document.querySelectorAll(".message.assistant .meta")[1].textContent.includes("tokens"), null, { timeout: 60000 });
  if (screenshots) await page.screenshot({ path: screenshots + "/chat.png" });

  // A 400 from the API is shown (a negative max_tokens is rejected by the server).
  await page.fill("#max-tokens", "-5");
  await page.fill("#prompt", "Hi");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("Error 400"), null, { timeout: 20000 });
  check(true, "a 400 from the API shows its message");

  // Dashboard: blocks in use while long requests stream, none after.
  const dash = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await dash.goto(base + "/dashboard");
  await dash.waitForFunction(() => /^0 in use/.test(document.getElementById("block-numbers").textContent), null, { timeout: 20000 });
  check(true, "the dashboard shows no blocks in use when idle");
  await dash.waitForFunction(() => window.tesseraDashboard.feed === "events" && window.tesseraDashboard.updates >= 2, null, { timeout: 20000 });
  check((await dash.textContent("#feed")).includes("/v1/engine/events"), "the dashboard follows GET /v1/engine/events");
  const controller = new AbortController();
  const long = [];
  for (let i = 0; i < 8; i++) {
    long.push(fetch(base + "/v1/chat/completions", {
      method: "POST", headers: { "Content-Type": "application/json" }, signal: controller.signal,
      body: JSON.stringify({ messages: [{ role: "user", content: "Story number " + i }], max_tokens: 400, ignore_eos: true, stream: true }),
    }).then((r) => r.body.getReader().read()).catch(() => {}));
  }
  await dash.waitForFunction(() => /^[1-9]\d* in use/.test(document.getElementById("block-numbers").textContent), null, { timeout: 20000 });
  check(true, "the dashboard shows blocks in use while requests stream");
  await dash.waitForTimeout(2500);  // let the charts fill in
  controller.abort();
  await Promise.all(long);
  await dash.waitForFunction(() => /^0 in use/.test(document.getElementById("block-numbers").textContent), null, { timeout: 30000 });
  check(true, "the dashboard shows no blocks in use after the requests end");
  check(errors.length === 0, "no script errors (" + errors.join("; ") + ")");

  // A server with --api-key: both pages say a key is needed; with the key the dashboard follows it.
  const keyed = await startServer(binary, model, ["-t", "1", "--api-key", "sekret"]);
  try {
    const keyPage = await browser.newPage();
    await keyPage.goto(keyed.base + "/dashboard");
    await keyPage.evaluate(() => localStorage.removeItem("tessera.api-key"));
    await keyPage.reload();
    await keyPage.waitForFunction(() => document.getElementById("status").textContent.includes("wants an API key"), null, { timeout: 20000 });
    check(true, "the dashboard asks for the API key (401)");
    await keyPage.fill("#api-key", "sekret");
    await keyPage.dispatchEvent("#api-key", "change");
    await keyPage.waitForFunction(() => window.tesseraDashboard.feed === "events" && document.getElementById("status").textContent === "",
                                  null, { timeout: 20000 });
    check(true, "with the key the dashboard follows the event stream");
    await keyPage.evaluate(() => localStorage.removeItem("tessera.api-key"));
    await keyPage.goto(keyed.base + "/");
    await keyPage.fill("#prompt", "Hi");
    await keyPage.keyboard.press("Enter");
    await keyPage.waitForFunction(() => document.getElementById("status").textContent.includes("Error 401"), null, { timeout: 20000 });
    check(true, "the chat page shows the 401's message");
    await keyPage.close();
  } finally {
    keyed.server.kill("SIGTERM");
  }

  // Server gone: the chat page says so.
  server.kill("SIGTERM");
  await new Promise((r) => server.on("exit", r));
  await page.fill("#max-tokens", "16");
  await page.fill("#prompt", "Hello?");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("cannot be reached"), null, { timeout: 20000 });
  check(true, "a server that is gone shows a clear message");
  await dash.waitForFunction(() => document.getElementById("status").textContent.includes("cannot be reached"), null, { timeout: 20000 });
  check(true, "the dashboard says so too");
  console.log("PASS");
} finally {
  await browser.close();
  server.kill("SIGKILL");
}
