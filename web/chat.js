// Tessera chat page: streams replies from /v1/chat/completions (SSE) and renders a little markdown.
"use strict";

const $ = (id) => document.getElementById(id);
const settings = ["system", "temperature", "max-tokens", "api-key"];
let history = [];        // [{role, content}] of this conversation
let controller = null;   // AbortController of the reply being streamed

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Markdown, the small part replies use: ``` fenced code, `inline code`, **bold**, *italic*,
// paragraphs and line breaks. Everything is escaped first, so model text never becomes markup.
function renderMarkdown(text) {
  const parts = text.split("```");
  let html = "";
  parts.forEach((part, i) => {
    if (i % 2 === 1) {  // inside a fence (an unclosed one while streaming, too)
      const newline = part.indexOf("\n");
      const lang = newline > 0 ? part.slice(0, newline).trim() : "";
      const code = newline >= 0 ? part.slice(newline + 1) : part;
      html += "<pre><code" + (lang ? ' data-lang="' + escapeHtml(lang) + '"' : "") + ">" + escapeHtml(code) + "</code></pre>";
      return;
    }
    for (const para of part.split(/\n{2,}/)) {
      if (!para.trim()) continue;
      let p = escapeHtml(para);
      p = p.replace(/`([^`\n]+)`/g, "<code>$1</code>");
      p = p.replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>");
      p = p.replace(/(^|[^*])\*([^*\n]+)\*/g, "$1<em>$2</em>");
      html += "<p>" + p.replace(/\n/g, "<br>") + "</p>";
    }
  });
  return html;
}

function addMessage(role, content) {
  const div = document.createElement("div");
  div.className = "message " + role;
  const body = document.createElement("div");
  body.className = "body";
  body.innerHTML = role === "user" ? "<p>" + escapeHtml(content).replace(/\n/g, "<br>") + "</p>" : renderMarkdown(content);
  const meta = document.createElement("div");
  meta.className = "meta muted";
  div.append(body, meta);
  $("messages").append(div);
  $("messages").scrollTop = $("messages").scrollHeight;
  return { body, meta };
}

function showError(message) { $("status").textContent = message; }

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body.error && body.error.message) return "Error " + response.status + ": " + body.error.message;
  } catch (_) { /* not JSON */ }
  return "Error " + response.status + " " + response.statusText;
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").disabled = !busy;
}

async function send(text) {
  showError("");
  if (!text.trim()) { showError("Type a message first."); return; }
  history.push({ role: "user", content: text });
  addMessage("user", text);
  const view = addMessage("assistant", "");
  view.body.innerHTML = '<p class="muted">…</p>';
  const messages = [];
  if ($("system").value.trim()) messages.push({ role: "system", content: $("system").value });
  messages.push(...history);
  const request = {
    messages, stream: true, stream_options: { include_usage: true },
    temperature: Number($("temperature").value), max_tokens: Number($("max-tokens").value) || 256,
  };
  controller = new AbortController();
  setBusy(true);
  let reply = "", tokens = 0, finish = "", firstAt = 0;
  const start = performance.now();
  try {
    const response = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(request), signal: controller.signal });
    if (!response.ok) throw new Error(await errorMessage(response));
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error("Error: " + chunk.error.message);
          if (chunk.usage) tokens = chunk.usage.completion_tokens;
          for (const choice of chunk.choices || []) {
            if (choice.delta && choice.delta.content) {
              if (!firstAt) firstAt = performance.now();
              reply += choice.delta.content;
            }
            if (choice.finish_reason) finish = choice.finish_reason;
          }
        }
      }
      view.body.innerHTML = renderMarkdown(reply);
      $("messages").scrollTop = $("messages").scrollHeight;
    }
  } catch (e) {
    if (e.name === "AbortError") finish = "stopped";
    else showError(e instanceof TypeError ? "The server cannot be reached (" + e.message + ")." : e.message);
  } finally {
    controller = null;
    setBusy(false);
  }
  view.body.innerHTML = renderMarkdown(reply) || '<p class="muted">(no reply)</p>';
  const seconds = (performance.now() - (firstAt || start)) / 1000;
  const rate = tokens > 1 && seconds > 0 ? ((tokens - 1) / seconds).toFixed(1) + " tok/s" : "";
  view.meta.textContent = [tokens ? tokens + " tokens" : "", rate, finish].filter(Boolean).join(" · ");
  if (reply) history.push({ role: "assistant", content: reply });
  else history.pop();  // nothing came back: the turn is not part of the conversation
}

$("composer").addEventListener("submit", (e) => {
  e.preventDefault();
  if (controller) return;
  const text = $("prompt").value;
  $("prompt").value = "";
  send(text);
});
$("prompt").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("composer").requestSubmit(); }
  if (e.key === "Escape" && controller) controller.abort();
});
$("stop").addEventListener("click", () => controller && controller.abort());
$("new-chat").addEventListener("click", () => {
  if (controller) controller.abort();
  history = [];
  $("messages").replaceChildren();
  showError("");
  $("prompt").focus();
});
$("temperature").addEventListener("input", () => { $("temperature-value").textContent = $("temperature").value; });

// Settings survive a reload (the key stays in this browser's localStorage only).
for (const id of settings) {
  const saved = localStorage.getItem("tessera." + id);
  if (saved !== null) $(id).value = saved;
  $(id).addEventListener("change", () => localStorage.setItem("tessera." + id, $(id).value));
}
$("temperature-value").textContent = $("temperature").value;

fetch("/v1/models", { headers: headers() })
  .then(async (r) => {
    if (!r.ok) throw new Error(await errorMessage(r));
    const models = await r.json();
    $("model").textContent = models.data[0].id + " · context " + models.data[0].max_model_len;
  })
  .catch((e) => showError(e instanceof TypeError ? "The server cannot be reached." : e.message));
$("prompt").focus();
