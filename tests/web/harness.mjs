// What the browser scripts share: a `tessera serve` child on a free port, and Debian's headless
// Chromium through playwright-core.
import { spawn } from "node:child_process";
import { chromium } from "playwright-core";

// Starts `BINARY serve -m MODEL --port 0 ARGS...`; resolves to { server, base } once it listens.
export function startServer(binary, model, args = []) {
  const server = spawn(binary, ["serve", "-m", model, "--port", "0", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  return new Promise((resolve, reject) => {
    let log = "";
    server.stderr.on("data", (d) => {
      log += d;
      const m = log.match(/on http:\/\/[^:]+:(\d+)/);
      if (m) resolve({ server, base: "http://127.0.0.1:" + m[1] });
    });
    server.on("exit", (code) => reject(new Error("server exited " + code + ": " + log)));
  });
}

// $CHROMIUM or /usr/bin/chromium, headless, without the network chatter of a first run.
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
}
