// Browser test of the web UI in headless Chromium (Debian's /usr/bin/chromium), driven by
// playwright-core. Started by crates/cli/tests/ui_browser.rs, which runs a real
// `stormwatch serve` with two tenants' data and passes, in the environment:
//   BASE, USER_A, PASS_A, USER_B, PASS_B, USER_OPS, PASS_OPS, INCIDENT (the planted intrusion's
//   incident, in tenant A), MAILBOX (a planted mailbox of A), SHOTS (a directory for screenshots).
// Prints one line per check and a closing "N passed, N failed"; exits 1 on any failure.
import { chromium } from "playwright-core";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env("BASE");
const SHOTS = env("SHOTS");
const INCIDENT = env("INCIDENT");
let passed = 0;
let failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`FAILED - ${name}: ${e.message}`);
  }
}

function expect(cond, message) {
  if (!cond) throw new Error(message);
}

async function signIn(page, user, pass) {
  await page.goto(`${BASE}/ui/`);
  expect(page.url().endsWith("/ui/login"), `not sent to sign in: ${page.url()}`);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(pass);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${BASE}/ui/`);
}

// Clicks a button that posts a form on the incident page and waits until the page it redirects
// back to has loaded (the URL stays the same, so waiting for it would not wait at all).
async function submitOnIncident(page, name) {
  await Promise.all([
    page.waitForResponse((r) => r.request().method() === "GET" && r.url().endsWith(`/ui/incidents/${INCIDENT}`)),
    page.getByRole("button", { name }).click(),
  ]);
  await page.waitForLoadState("load");
}

async function signOut(page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${BASE}/ui/login`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
const page = await context.newPage();
const problems = [];
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
// Failed loads are the checks' own expected 4xx answers; anything else on the console counts.
page.on("console", (m) => {
  if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`console: ${m.text()}`);
});

try {
  await check("a wrong password is refused without telling whether the user exists", async () => {
    await page.goto(`${BASE}/ui/login`);
    await page.getByLabel("User name").fill(env("USER_A"));
    await page.getByLabel("Password").fill("not the password");
    const [resp] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith("/ui/login") && r.request().method() === "POST"),
      page.getByRole("button", { name: "Sign in" }).click(),
    ]);
    expect(resp.status() === 401, `status ${resp.status()}`);
    await page.getByText("Wrong user name or password.").waitFor();
  });

  await check("tenant A's admin signs in and sees the overview with its security headers", async () => {
    const resp = await page.goto(`${BASE}/ui/login`);
    const csp = resp.headers()["content-security-policy"] || "";
    expect(csp.includes("frame-ancestors 'none'") && csp.includes("script-src 'self'"), `CSP: ${csp}`);
    await signIn(page, env("USER_A"), env("PASS_A"));
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    await page.locator("canvas.chart-bars").first().waitFor();
    await page.screenshot({ path: `${SHOTS}/overview.png`, fullPage: true });
  });

  await check("the keyboard reaches the skip link first", async () => {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => document.activeElement?.textContent);
    expect(focused === "Skip to content", `focused: ${focused}`);
  });

  await check("the incident list shows the planted intrusion", async () => {
    await page.goto(`${BASE}/ui/incidents`);
    await page.getByRole("link", { name: `#${INCIDENT}`, exact: true }).waitFor();
    await page.screenshot({ path: `${SHOTS}/incidents.png`, fullPage: true });
  });

  await check("the incident page draws the mail-access timeline with the intrusion highlighted", async () => {
    await page.getByRole("link", { name: `#${INCIDENT}`, exact: true }).click();
    await page.waitForURL(`${BASE}/ui/incidents/${INCIDENT}`);
    await page.waitForFunction(() => window.Chart && Chart.getChart(document.getElementById("timeline")));
    const sizes = await page.evaluate(() =>
      Chart.getChart(document.getElementById("timeline")).data.datasets.map((d) => d.data.length));
    expect(sizes.length === 2 && sizes[1] > 0, `incident points: ${sizes}`);
    expect(sizes[0] > 0, `no other reads drawn: ${sizes}`);
    expect(await page.locator("#raw ~ details").count() > 0, "no raw records");
    const box = await page.locator("#timeline").boundingBox();
    expect(box && box.width > 300 && box.height > 100, `canvas ${JSON.stringify(box)}`);
    await page.screenshot({ path: `${SHOTS}/incident.png`, fullPage: true });
  });

  await check("acknowledging persists across a reload", async () => {
    expect((await page.locator("#status").textContent()) === "new", "not new before");
    await submitOnIncident(page, "Acknowledge");
    await page.reload();
    const status = await page.locator("#status").textContent();
    expect(status === "acknowledged", `status after reload: ${status}`);
    await page.getByRole("cell", { name: "status", exact: true }).first().waitFor();
  });

  await check("assigning and commenting are kept", async () => {
    await page.getByLabel("Assignee").fill("alice");
    await submitOnIncident(page, "Assign");
    await page.getByLabel("Comment").fill("Reads from the published proxy addresses; resetting tokens.");
    await submitOnIncident(page, "Add comment");
    await page.reload();
    const assignee = await page.getByLabel("Assignee").inputValue();
    expect(assignee === "alice", `assignee after reload: ${assignee}`);
    await page.getByRole("cell", { name: "Reads from the published proxy addresses; resetting tokens." }).waitFor();
  });

  await check("the mailbox page shows who read the mailbox", async () => {
    await page.goto(`${BASE}/ui/mailboxes/${encodeURIComponent(env("MAILBOX"))}`);
    await page.getByRole("table", { name: "Who read this mailbox" }).waitFor();
    await page.waitForFunction(() => window.Chart && Chart.getChart(document.getElementById("timeline")));
    await page.screenshot({ path: `${SHOTS}/mailbox.png`, fullPage: true });
  });

  await check("a form without the session's CSRF token is refused", async () => {
    const status = await page.evaluate(async (id) => {
      const r = await fetch(`/ui/incidents/${id}/status`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "status=resolved&csrf=forged",
      });
      return r.status;
    }, INCIDENT);
    expect(status === 400, `status ${status}`);
    const api = await page.evaluate(async (id) => (await fetch(`/api/v1/incidents/${id}/status`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: '{"status":"resolved"}',
    })).status, INCIDENT);
    expect(api === 403, `API call with the cookie but no X-CSRF-Token: ${api}`);
  });

  await check("tenant B's admin cannot see A's incident in the UI or the API", async () => {
    await signOut(page);
    await signIn(page, env("USER_B"), env("PASS_B"));
    await page.goto(`${BASE}/ui/incidents`);
    expect(await page.getByRole("link", { name: `#${INCIDENT}`, exact: true }).count() === 0, "listed for B");
    const ui = await page.goto(`${BASE}/ui/incidents/${INCIDENT}`);
    expect(ui.status() === 404, `UI status ${ui.status()}`);
    const api = await page.evaluate(async (id) => (await fetch(`/api/v1/incidents/${id}`)).status, INCIDENT);
    expect(api === 404 || api === 403, `API status ${api}`);
  });

  await check("an operator sees rules, feeds and settings", async () => {
    await page.goto(`${BASE}/ui/`);
    await signOut(page);
    await signIn(page, env("USER_OPS"), env("PASS_OPS"));
    await page.goto(`${BASE}/ui/rules`);
    await page.getByRole("heading", { name: "Upload" }).waitFor();
    await page.screenshot({ path: `${SHOTS}/rules.png`, fullPage: true });
    await page.goto(`${BASE}/ui/settings`);
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    await page.screenshot({ path: `${SHOTS}/settings.png`, fullPage: true });
  });

  await check("no script errors on any page", async () => {
    expect(problems.length === 0, problems.join("; "));
  });
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
