// One way to start Debian's headless Chromium for every browser test (console, rollbar.js, Sentry).
// npm playwright-core drives the system browser; it never downloads one. The flags keep Chromium off
// the network (this machine reaches only loopback): no background networking, sync or updates.
import { chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

// Collects what a page prints to its console and every uncaught page error, so a test can assert
// that a client produced none.
export function watchConsole(page) {
  const messages = [];
  page.on("console", (msg) => messages.push({ type: msg.type(), text: msg.text() }));
  page.on("pageerror", (err) => messages.push({ type: "pageerror", text: String(err) }));
  return messages;
}
