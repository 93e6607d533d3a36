// The real rollbar.js browser build (npm rollbar, dist/rollbar.umd.min.js) in Debian's headless
// Chromium. The page comes from a second loopback origin (this script's own server), so the POST
// to Lodge is cross-origin: the browser enforces CORS on it, and rollbar.js reads its
// Rollbar-Replay-* and X-Rate-Limit-* answer headers, which Chrome refuses ("Refused to get unsafe
// header") unless Lodge exposes them. The page reports a caught error and a message.
// Usage: node rollbar_browser.mjs <endpoint> <post_client_item token>.
// Prints {"origin", "uuids", "items": [status...], "failed", "console"}.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { launch, watchConsole } from "./browser.mjs";

const [endpoint, token] = process.argv.slice(2);
const BUILD = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../node_modules/rollbar/dist/rollbar.umd.min.js");

const page = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>checkout</title>
<script src="/rollbar.umd.min.js"></script>
<script>
window.__uuids = [];
// The UMD build exposes the Rollbar class as window.rollbar.
var rollbar = window.rollbar.init({
  accessToken: ${JSON.stringify(token)},
  endpoint: ${JSON.stringify(endpoint)},
  captureUncaught: true,
  environment: "staging",
  payload: { client: { javascript: { code_version: "web-7" } } },
});
function report() {
  var args = Array.prototype.slice.call(arguments), sent;
  args.push(function (err) { window.__uuids.push(err ? "error: " + err : sent.uuid); });
  sent = rollbar.error.apply(rollbar, args);
}
</script></head><body>
<script>
try { JSON.parse("{not json"); } catch (e) { report("checkout failed", e); }
rollbar.configure({ payload: { custom: { page: "basket" } } });
setTimeout(function onCheckout() { report("basket is empty"); }, 0);
</script>
</body></html>
`;

const server = http.createServer((req, res) => {
  if (req.url === "/favicon.ico") {
    res.writeHead(204);
    return res.end();
  }
  if (req.url === "/") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    return res.end(page);
  }
  if (req.url === "/rollbar.umd.min.js") {
    res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
    return res.end(fs.readFileSync(BUILD));
  }
  res.writeHead(404);
  res.end();
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;

const browser = await launch();
const result = { origin, uuids: [], items: [], failed: [], console: [] };
try {
  const tab = await browser.newPage();
  result.console = watchConsole(tab);
  const toLodge = (r) => r.url().startsWith(endpoint);
  tab.on("response", (r) => { if (toLodge(r.request())) result.items.push(r.status()); });
  tab.on("requestfailed", (r) => result.failed.push(`${r.url()}: ${r.failure()?.errorText}`));
  await tab.goto(origin + "/");
  await tab.waitForFunction(() => window.__uuids.length >= 2, null, { timeout: 20000 });
  await new Promise((r) => setTimeout(r, 500)); // late console messages (header reads) arrive too
  result.uuids = await tab.evaluate(() => window.__uuids);
} finally {
  await browser.close();
  server.close();
}
process.stdout.write(JSON.stringify(result));
