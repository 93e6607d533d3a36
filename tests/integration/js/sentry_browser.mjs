// The real @sentry/browser (npm, its ESM build) in Debian's headless Chromium. The test page comes
// from a second loopback origin (this script's own server), so the SDK's POST to Lodge is
// cross-origin and the browser enforces CORS on it. The page throws an uncaught TypeError from an
// inline script (so contextLinesIntegration can attach the page's source lines).
// Usage: node sentry_browser.mjs <DSN>. Prints {"id", "origin", "envelopes": [status...], "failed", "console"}.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launch, watchConsole } from "./browser.mjs";

const [dsn] = process.argv.slice(2);
const NODE_MODULES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../node_modules");
// Every bare specifier in @sentry/browser's ESM module graph, mapped for the page's import map.
const SPECIFIERS = [
  "@sentry/browser", "@sentry/browser-utils", "@sentry/core", "@sentry/core/browser", "@sentry/feedback",
  "@sentry/replay", "@sentry/replay-canvas", "@sentry/conventions/attributes", "@sentry/conventions/metrics",
  "@sentry/conventions/op", "web-vitals",
];

function entry(specifier) {
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  const subpath = "." + specifier.slice(name.length);
  const manifest = JSON.parse(fs.readFileSync(path.join(NODE_MODULES, name, "package.json"), "utf8"));
  let target = manifest.exports && manifest.exports[subpath];
  for (let i = 0; i < 3 && target && typeof target === "object"; i++) {
    target = target.browser || target.import || target.default;
  }
  target = target || manifest.module || manifest.main;
  return "/node_modules/" + path.posix.join(name, target);
}

const importMap = { imports: Object.fromEntries(SPECIFIERS.map((s) => [s, entry(s)])) };
// Laid out as contextLinesIntegration assumes: it rebuilds the page's lines as "<!DOCTYPE html>",
// "<html>", then documentElement.innerHTML (which starts at <head>).
const page = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>checkout</title>
<script type="importmap">${JSON.stringify(importMap)}</script>
</head><body>
<script type="module">
import * as Sentry from "@sentry/browser";
Sentry.init({
  dsn: ${JSON.stringify(dsn)},
  release: "shop-web@3.1.0",
  environment: "staging",
  integrations: [Sentry.contextLinesIntegration()],
  beforeSend(event) { window.__sent = event.event_id; return event; },
});
Sentry.setUser({ id: "u-9", username: "linus" });
Sentry.setTag("page", "checkout");
function renderBasket(items) {
  return items.map((item) => item.price.toFixed(2));
}
setTimeout(function onCheckout() {
  renderBasket([{ price: 1 }, {}]);
}, 0);
</script>
</body></html>
`;

const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/favicon.ico") {
    res.writeHead(204);
    return res.end();
  }
  if (url.pathname === "/") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    return res.end(page);
  }
  const file = path.join(NODE_MODULES, decodeURIComponent(url.pathname.slice("/node_modules/".length)));
  if (!url.pathname.startsWith("/node_modules/") || !file.startsWith(NODE_MODULES) || !/\.m?js$/.test(file)) {
    res.writeHead(404);
    return res.end();
  }
  fs.readFile(file, (err, data) => {
    if (err) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
    res.end(data);
  });
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await launch();
const result = { origin, envelopes: [], failed: [], console: [] };
try {
  const tab = await browser.newPage();
  result.console = watchConsole(tab);
  let pending = 0;
  const toLodge = (r) => r.url().includes("/envelope/");
  tab.on("request", (r) => { if (toLodge(r)) pending++; });
  tab.on("response", (r) => { if (toLodge(r.request())) { pending--; result.envelopes.push(r.status()); } });
  tab.on("requestfailed", (r) => {
    if (toLodge(r)) pending--;
    result.failed.push(`${r.url().split("?")[0]}: ${r.failure()?.errorText}`);
  });
  await tab.goto(origin + "/");
  await tab.waitForFunction(() => window.__sent, null, { timeout: 20000 });
  result.id = await tab.evaluate(() => window.__sent);
  const deadline = Date.now() + 20000;
  // Until the event's envelope (and the session's) got their answers: none may be cut off.
  while ((result.envelopes.length === 0 || pending > 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
} finally {
  await browser.close();
  server.close();
}
process.stdout.write(JSON.stringify(result));
