// The dashboard in a real browser: Debian's Chromium (/usr/bin/chromium, or CHROMIUM), driven by
// playwright-core (no browser download). Run by tests/python/test_dashboard_browser.py, one step
// at a time, each signing in anew through the form:
//
//   node dashboard.mjs STEP CONTROL_PLANE_URL NAME PASSWORD PROJECT_ID [ARG] [SHOTS_DIR]
//
//   add-keys     ARG: a provider key. Adds it on the project page (API Keys → Add Provider Key),
//                makes a Warden key (copied with its Copy button), sets the project's PII
//                guardrail to redact (phone regions KE, GB) on its settings page, prints
//                {"warden_key", "fingerprint_rows"}.
//   onboard      (an operator; PROJECT unused) ARG: a tenant name. Makes the tenant and its
//                project "<ARG>-app" on the signed-in page and invites "<ARG>-owner" as its owner
//                on its People page; prints {"tenant", "project", "user", "password"}.
//   delete-key   deletes the project's provider key (ticking "sure"), prints {"left"}.
//   log          prints {"rows"}: the project's request log, each row's text.
//   visit        prints {"status", "api"}: the project page's status and that of the project
//                list of tenant ARG from the page's API (another tenant's user: 404, 404).
//   forged       submits the project page's Warden-key form with a forged CSRF token, prints
//                {"status", "made"} (403, and no key made).
//   expire       ARG: seconds. Waits them out signed in, then opens the project page; prints
//                {"url"} (the sign-in form, once the session is over).
//   usage        ARG: the tenant. Opens its usage page, prints {"drawn", "canvas", "rows"}.
//
// Any browser console error (a Content-Security-Policy violation, a failed load) fails the run.
// With SHOTS_DIR, screenshots of the pages go there. Under WARDEN_SCAN_DIR (scripts/test.sh) every
// response the browser received — status, headers, body — is appended to browser-responses.log
// there, for scripts/scan_secrets.py.

import { appendFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [step, base, name, password, project, arg, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // As root in CI: Chromium's sandbox needs a user namespace there.
  args: ["--no-sandbox"],
});
const errors = [];
const received = [];
function fail(message) {
  console.error(message);
  process.exitCode = 1;
}

try {
  // The clipboard, for the new key's Copy button (granted as a person's click would be).
  const context = await browser.newContext({ permissions: ["clipboard-read", "clipboard-write"] });
  const page = await context.newPage();
  if (process.env.WARDEN_SCAN_DIR) page.on("response", (r) => received.push(r));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  const shot = async (file) => shots && (await page.screenshot({ path: `${shots}/${file}`, fullPage: true }));

  // `/` leads to the sign-in form.
  await page.goto(base + "/");
  if (!page.url().endsWith("/dashboard/login")) throw new Error(`/ led to ${page.url()}`);
  await shot("dashboard-login.png");
  await page.fill("input[name=name]", name);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL("**/dashboard/"), page.click("button[type=submit]")]);

  const projectUrl = `${base}/dashboard/projects/${project}`;
  if (step === "visit") {
    const response = await page.goto(projectUrl);
    const api = await page.request.get(`${base}/dashboard/api/tenants/${arg}/projects`);
    console.log(JSON.stringify({ status: response.status(), api: api.status() }));
  } else if (step === "onboard") {
    await page.fill("form[action='/dashboard/tenants'] input[name=name]", arg);
    await Promise.all([page.waitForURL("**/dashboard/"), page.click("form[action='/dashboard/tenants'] button")]);
    const people = page.locator(`xpath=//h2[normalize-space()="${arg}"]/following-sibling::p[1]//a[normalize-space()="People"]`);
    const tenant = (await people.getAttribute("href")).split("/")[3];
    const projects = `form[action="/dashboard/tenants/${tenant}/projects"]`;
    await page.fill(`${projects} input[name=name]`, `${arg}-app`);
    // A new project opens its own page.
    await Promise.all([page.waitForURL("**/dashboard/projects/*"), page.click(`${projects} button`)]);
    const projectId = new URL(page.url()).pathname.split("/")[3];
    await page.goto(`${base}/dashboard/`);
    await Promise.all([page.waitForURL(`**/tenants/${tenant}/users`), people.click()]);
    await page.fill("input[name=name]", `${arg}-owner`);
    await page.selectOption("select[name=role]", "owner");
    await Promise.all([page.waitForNavigation(), page.click("button:text-is('Invite')")]);
    const said = await page.textContent(".message");
    const password = /with the password (\S+) — it is shown only this once/.exec(said);
    if (!password) throw new Error(`no password shown: ${said}`);
    console.log(JSON.stringify({ tenant, project: projectId, user: `${arg}-owner`, password: password[1] }));
  } else if (step === "log") {
    await page.goto(`${projectUrl}/requests`);
    const rows = await page.$$eval("tbody tr", (trs) => trs.map((tr) => tr.innerText));
    console.log(JSON.stringify({ rows }));
  } else if (step === "forged") {
    await page.goto(projectUrl);
    const form = "form[action$='/api-keys']";
    await page.fill(`${form} input[name=name]`, "forged");
    await page.$eval(`${form} input[name=csrf]`, (i) => (i.value = "forged-token"));
    const [response] = await Promise.all([page.waitForNavigation(), page.click("text=Make a Warden key")]);
    const status = response.status();
    await page.goto(projectUrl);
    const made = (await page.textContent("body")).includes("forged");
    console.log(JSON.stringify({ status, made }));
  } else if (step === "expire") {
    await page.goto(projectUrl);
    await page.waitForTimeout(Number(arg) * 1000);
    await page.goto(projectUrl);
    console.log(JSON.stringify({ url: page.url() }));
  } else if (step === "usage") {
    await page.goto(`${base}/dashboard/tenants/${arg}/usage`);
    await page.waitForSelector("#chart[data-drawn=yes] canvas", { timeout: 20000 });
    await shot("dashboard-usage.png");
    const rows = await page.$$eval("tbody tr", (trs) => trs.map((tr) => tr.innerText));
    console.log(JSON.stringify({ drawn: true, canvas: await page.$$eval("#chart canvas", (c) => c.length), rows }));
  } else if (step === "add-keys") {
    await shot("dashboard-home.png");
    await Promise.all([page.waitForURL(`**/dashboard/projects/${project}`), page.click(`a[href="/dashboard/projects/${project}"]`)]);
    await page.selectOption("select[name=provider]", "openai");
    await page.fill("input[name=key]", arg);
    await page.fill("input[name=label]", "main");
    await Promise.all([page.waitForURL("**done=key-added"), page.click("text=Save key")]);
    const text = await page.textContent("body");
    if (text.includes(arg)) fail("the provider key is shown after saving");
    if (!text.includes("Provider key saved")) fail("no confirmation after saving");
    const rows = await page.$$eval("table:first-of-type tbody tr", (trs) => trs.map((tr) => tr.innerText));
    await shot("dashboard-project.png");
    await page.fill("input[name=name]", "app");
    await Promise.all([page.waitForNavigation(), page.click("text=Make a Warden key")]);
    const wardenKey = (await page.textContent("#key")).trim();
    await page.click("#copy");
    await page.waitForSelector("#copy:text('Copied')");
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    if (copied !== wardenKey) fail(`the Copy button copied ${JSON.stringify(copied)}`);
    await shot("dashboard-new-key.png");
    await page.goto(projectUrl);
    if ((await page.textContent("body")).includes(wardenKey)) fail("the Warden key is shown twice");
    // The project's settings: routing, guardrails and limits, saved from the page.
    await Promise.all([page.waitForURL("**/settings"), page.click("text=Routing, guardrails and limits")]);
    await page.selectOption("select[name=pii]", "redact");
    await page.fill("input[name=phone_regions]", "ke, gb");
    await Promise.all([page.waitForURL("**done=guardrails"), page.click("text=Save guardrails")]);
    if (!(await page.textContent("body")).includes("Guardrail policy saved")) fail("no confirmation for the guardrails");
    if ((await page.$eval("select[name=pii]", (s) => s.value)) !== "redact") fail("the saved action is not shown");
    const regions = await page.$eval("input[name=phone_regions]", (i) => i.value);
    if (regions !== "KE, GB") fail(`the saved phone regions show as ${JSON.stringify(regions)}`);
    await shot("dashboard-settings.png");
    console.log(JSON.stringify({ warden_key: wardenKey, fingerprint_rows: rows }));
  } else if (step === "delete-key") {
    await page.goto(projectUrl);
    const row = page.locator("table:first-of-type tbody tr").first();
    await row.locator("input[name=confirm]").check();
    await Promise.all([page.waitForURL("**done=key-deleted"), row.locator("button.danger").click()]);
    const left = await page.$$eval("table:first-of-type tbody tr", (trs) => trs.map((tr) => tr.innerText));
    // Signing out ends the session: the dashboard sends the browser back to the form.
    await Promise.all([page.waitForURL("**/dashboard/login"), page.click("text=Sign out")]);
    await page.goto(projectUrl);
    if (!page.url().endsWith("/dashboard/login")) fail(`after signing out the project page is ${page.url()}`);
    console.log(JSON.stringify({ left }));
  } else {
    throw new Error(`unknown step ${step}`);
  }
  // (A refused page logs its 404 or 403 as a console error: expected on those steps.)
  if (errors.length && step !== "visit" && step !== "forged") fail(`console errors: ${errors.join(" | ")}`);
} finally {
  await keepForScan();
  await browser.close();
}

async function keepForScan() {
  for (const r of received) {
    // A redirect has no body to read; its status and headers are still kept.
    const body = await r.body().catch(() => Buffer.alloc(0));
    const head = [`${r.request().method()} ${r.url()} -> ${r.status()}`];
    for (const [k, v] of Object.entries(await r.allHeaders())) head.push(`${k}: ${v}`);
    appendFileSync(`${process.env.WARDEN_SCAN_DIR}/browser-responses.log`, Buffer.concat([Buffer.from(head.join("\n") + "\n\n"), body, Buffer.from("\n\n")]));
  }
}
