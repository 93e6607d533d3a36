// Drives the Lodge console in Debian's headless Chromium (via browser.mjs) for
// tests/integration/test_console_browser.py. Usage: node console_driver.mjs <phase> <options.json>
// Prints one JSON object of observations; the Python test makes the assertions.
// Every page gets a securitypolicyviolation listener, a dialog watcher and an XSS canary check.
import { readFileSync } from "node:fs";
import { launch, watchConsole } from "./browser.mjs";

const [phase, optionsPath] = process.argv.slice(2);
const opts = JSON.parse(readFileSync(optionsPath, "utf8"));
const base = opts.url + "/console";

const SPY = () => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
  });
};

async function observe(page, out, label) {
  const seen = await page.evaluate(() => ({
    csp: window.__csp || [],
    xss: window.__xss || null,
    jsLinks: document.querySelectorAll('a[href^="javascript:" i], [src^="javascript:" i]').length,
    inlineHandlers: Array.from(document.querySelectorAll("*")).filter((el) =>
      Array.from(el.attributes).some((a) => a.name.startsWith("on"))).length,
  }));
  out.pages.push({ label, url: page.url(), ...seen });
}

// The sign-in page's own URL (`/console/signin?next=/console/issues`) contains the target path:
// a regex on the whole URL matches before the form's POST has navigated. Match the pathname.
const at = (pathname) => (url) => url.pathname === pathname;

async function rows(page) {
  return page.$$eval("tr.issue-row", (trs) => trs.map((tr) => ({
    id: tr.dataset.id,
    title: tr.querySelector("td.title a").textContent.trim(),
    badges: Array.from(tr.querySelectorAll(".badge")).map((b) => b.textContent.trim()),
    level: tr.querySelector(".level").textContent.trim(),
    spark: !!tr.querySelector("svg.spark polyline"),
  })));
}

async function alertRules(page) {
  return page.$$eval("tr.alert-rule", (trs) => trs.map((tr) => ({
    id: tr.dataset.id,
    name: tr.querySelector("td.name").textContent,
    where: tr.querySelector("code.where").textContent,
    signed: !!tr.querySelector(".tag"),
    triggers: tr.querySelector("td.triggers").textContent.trim(),
    text: tr.textContent.replace(/\s+/g, " ").trim(),
  })));
}

async function openIssue(page, id, out, label) {
  await page.goto(`${base}/issues/${id}`);
  await observe(page, out, label);
  return page.evaluate(() => ({
    title: document.querySelector("#issue-title").textContent.trim(),
    status: document.querySelector("#status").textContent.trim(),
    count: document.querySelector("#count").textContent.trim(),
    badges: Array.from(document.querySelectorAll(".summary .badge")).map((b) => b.textContent.trim()),
    appFrames: document.querySelectorAll("details.frame.app").length,
    appFramesOpen: document.querySelectorAll("details.frame.app[open]").length,
    libFrames: document.querySelectorAll("details.frame.lib").length,
    libFramesOpen: document.querySelectorAll("details.frame.lib[open]").length,
    methods: Array.from(document.querySelectorAll("details.frame .method")).map((m) => m.textContent),
    exceptions: Array.from(document.querySelectorAll(".exception h3")).map((h) => h.textContent.trim()),
    custom: (document.querySelector(".section-custom") || {}).textContent || "",
    request: (document.querySelector(".section-request") || {}).textContent || "",
    message: (document.querySelector("pre.message") || {}).textContent || "",
    occurrences: document.querySelectorAll("table.occurrences tbody tr").length,
    trend: !!document.querySelector("figure.trend svg rect"),
    flash: (document.querySelector(".flash") || {}).textContent || "",
  }));
}

const browser = await launch();
const context = await browser.newContext(
  opts.state ? { storageState: opts.state, viewport: { width: 1280, height: 900 } } : { viewport: { width: 1280, height: 900 } },
);
await context.addInitScript(SPY);
const page = await context.newPage();
const messages = watchConsole(page);
const dialogs = [];
const confirmed = [];
page.on("dialog", async (d) => {
  // The alert phases answer "Really remove?" like a user; any other dialog is a finding.
  if (opts.acceptConfirms && d.type() === "confirm") { confirmed.push(d.message()); await d.accept(); return; }
  dialogs.push(d.message());
  await d.dismiss();
});
const out = { pages: [], dialogs, messages, confirmed };

try {
  if (phase === "first") {
    await page.goto(`${base}/issues`);
    out.unsignedUrl = page.url();
    await page.fill("#token", opts.token);
    await Promise.all([page.waitForURL(at("/console/issues")), page.click("button[type=submit]")]);
    out.signedInUrl = page.url();
    await observe(page, out, "issues");
    out.rows = await rows(page);
    out.html = (await page.content()).includes(opts.token);
    await page.screenshot({ path: `${opts.artifacts}/console-issues.png`, fullPage: true });
    // Filters: the level select submits itself (console.js); search is a plain GET form.
    await Promise.all([page.waitForURL(/level=/), page.selectOption("select[name=level]", opts.level)]);
    out.levelRows = await rows(page);
    await page.goto(`${base}/issues`);
    await page.fill("input[name=q]", opts.search);
    await Promise.all([page.waitForURL(/q=/), page.press("input[name=q]", "Enter")]);
    out.searchRows = await rows(page);
    out.issue = await openIssue(page, opts.issue, out, "issue");
    await page.screenshot({ path: `${opts.artifacts}/console-issue.png`, fullPage: true });
    await Promise.all([page.waitForURL(/flash=muted/), page.click("#mute-button")]);
    out.muted = (await page.textContent("#status")).trim();
    await page.goto(`${base}/issues?status=muted`);
    out.mutedRows = await rows(page);
    await page.goto(`${base}/issues/${opts.issue}`);
    await Promise.all([page.waitForURL(/flash=active/), page.click("#reopen")]);
    await Promise.all([page.waitForURL(/flash=resolved/), page.click("#resolve")]);
    out.resolved = await openIssue(page, opts.issue, out, "resolved");
    await page.goto(`${base}/issues?status=resolved`);
    out.resolvedRows = await rows(page);
    await page.goto(`${base}/deploys`);
    await observe(page, out, "deploys");
    out.deploys = await page.$$eval("li.marker", (lis) => lis.map((li) => li.textContent.replace(/\s+/g, " ").trim()));
    await page.goto(`${base}/settings`);
    await observe(page, out, "settings");
    out.settingsHasToken = (await page.content()).includes(opts.token);
    out.credentials = await page.$$eval("table.credentials tbody tr", (trs) => trs.length);
    await context.storageState({ path: opts.saveState });
  } else if (phase === "again") {
    out.again = await openIssue(page, opts.issue, out, "again");
    await page.goto(`${base}/issues?status=resolved`);
    out.resolvedRows = await rows(page);
    if (opts.occurrence) {
      await page.goto(`${base}/occurrences/${opts.occurrence}`);
      await observe(page, out, "occurrence");
      out.occurrence = await page.evaluate(() => ({
        raw: document.querySelector("#raw").textContent,
        meta: document.querySelector("main").textContent.replace(/\s+/g, " "),
      }));
    }
    await Promise.all([page.waitForURL(/\/console\/signin/), page.click("#signout")]);
    out.signedOutUrl = page.url();
    out.afterSignOut = {};
    for (const path of ["/", "/issues", `/issues/${opts.issue}`, "/deploys", "/settings", `/occurrences/${opts.occurrence || "x"}`]) {
      await page.goto(base + path);
      out.afterSignOut[path] = new URL(page.url()).pathname;
    }
  } else if (phase === "alerts-add") {
    // Settings: add a signed-webhook rule for new issues only, copy the secret it shows once, list
    // the rules again, then "Send test" to it.
    await page.goto(`${base}/signin?next=/console/settings`);
    await page.fill("#token", opts.token);
    await Promise.all([page.waitForURL(at("/console/settings")), page.click("button[type=submit]")]);
    await observe(page, out, "settings");
    await page.selectOption("#alert-destination", "webhook");
    await page.fill("#alert-url", opts.hookUrl);
    await page.fill("#alert-name", opts.name);
    for (const box of await page.$$("input[name=trigger]")) {
      if ((await box.getAttribute("value")) !== "new_issue") await box.uncheck();
    }
    await Promise.all([page.waitForSelector("#signing-secret"), page.click("#alert-add-button")]);
    await observe(page, out, "rule added");
    out.secret = (await page.textContent("#signing-secret")).trim();
    out.addedUrl = page.url();
    await page.screenshot({ path: `${opts.artifacts}/console-alert-added.png`, fullPage: true });
    await page.goto(`${base}/settings`);
    await observe(page, out, "settings with the rule");
    const content = await page.content();
    out.listedSecret = content.includes(out.secret);
    out.listedUrl = content.includes(opts.hookUrl);
    out.rules = await alertRules(page);
    await Promise.all([page.waitForSelector("#test-result"), page.click("tr.alert-rule button.send-test")]);
    await observe(page, out, "test sent");
    out.test = {
      ok: await page.getAttribute("#test-result", "data-ok"),
      text: (await page.textContent("#test-result")).trim(),
    };
    await context.storageState({ path: opts.saveState });
  } else if (phase === "alerts-remove") {
    await page.goto(`${base}/settings`);
    await Promise.all([page.waitForURL(/flash=alert-removed/), page.click("tr.alert-rule button.remove")]);
    await observe(page, out, "rule removed");
    out.removedUrl = page.url();
    out.flash = (await page.textContent("#alert-flash")).trim();
    out.rules = await alertRules(page);
    out.empty = !!(await page.$("#no-alert-rules"));
  } else if (phase === "xss") {
    await page.goto(`${base}/signin`);
    await page.fill("#token", opts.token);
    await Promise.all([page.waitForURL(at("/console/issues")), page.click("button[type=submit]")]);
    await observe(page, out, "issues");
    out.rows = await rows(page);
    for (const id of opts.issues) {
      const seen = await openIssue(page, id, out, `issue ${id}`);
      out.issueTexts = (out.issueTexts || []).concat([seen]);
      await page.click("details.frame summary").catch(() => {});
      const link = await page.$("a[href*='/occurrences/']");
      if (link) {
        await Promise.all([page.waitForURL(/\/occurrences\//), link.click()]);
        await observe(page, out, `occurrence of ${id}`);
      }
    }
    out.messages = messages.slice(); // the probe below must log its own refusal; keep what came before
    // Prove the listener is live: an inline script the page itself did not write must be refused.
    out.probe = await page.evaluate(async () => {
      const before = window.__csp.length;
      const s = document.createElement("script");
      s.textContent = "window.__xss = 'probe ran'";
      document.body.appendChild(s);
      await new Promise((r) => setTimeout(r, 200));
      return { added: window.__csp.length - before, ran: window.__xss || null };
    });
  }
} catch (error) {
  out.error = String(error && error.stack || error);
}
await browser.close();
process.stdout.write(JSON.stringify(out));
