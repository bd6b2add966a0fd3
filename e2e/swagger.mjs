// Swagger UI as a newcomer uses it, in a real browser (Debian's Chromium, driven by playwright-core):
// open /swagger-ui/, log in with POST /auth/login's own "Try it out" example, paste the token into
// "Authorize", then "Try it out" + "Execute" every GET operation of the served spec and
// POST /customers with the UI's default values, and read each live response's status.
//
//   RAPPORT_URL=http://127.0.0.1:8080 node e2e/swagger.mjs
//
// Env: RAPPORT_URL (the server), DEMO_EMAIL / DEMO_PASSWORD (only for the fallback login from node),
// CHROMIUM (default /usr/bin/chromium), SWAGGER_OP_TIMEOUT_MS (per operation, default 30000),
// E2E_OUT (screenshots of failures, default e2e/out).
// Fails (exit 1) on any non-2xx, any operation the UI would not send, any request the page makes
// to a host other than the server's, and any failed check (authorization persisted, UI config).
// Operations are found by method + path (`.opblock-get` + `.opblock-summary-path[data-path=...]`),
// never by summary or operationId, which may change.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BASE = (process.env.RAPPORT_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const EMAIL = process.env.DEMO_EMAIL || 'demo@rapport.local';
const PASSWORD = process.env.DEMO_PASSWORD || 'demo-password';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const OP_TIMEOUT = Number(process.env.SWAGGER_OP_TIMEOUT_MS || 30000);
const OUT = process.env.E2E_OUT || join(dirname(fileURLToPath(import.meta.url)), 'out');
const SERVER_HOST = new URL(BASE).host;
const started = Date.now();

const rows = []; // {method, path, status, ok, note, body}
const checks = []; // {name, ok, detail}
const requests = []; // every request the page made: {method, url, host, auth}
const consoleErrors = [];

function check(name, ok, detail = '') {
  checks.push({ name, ok, detail });
}

function excerpt(text, n = 300) {
  const t = String(text ?? '').replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n)}…` : t;
}

function cssString(s) {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    ...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : []),
    // No traffic of Chromium's own (updates, sync, field trials): only the page's requests.
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--disable-gpu',
    '--no-first-run',
  ],
});
let exitCode = 1;
try {
  exitCode = await run();
} catch (e) {
  console.error(`swagger: aborted: ${e && e.stack ? e.stack : e}`);
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);

async function run() {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  context.on('request', (r) => {
    const url = r.url();
    let host = '';
    try {
      const u = new URL(url);
      if (u.protocol === 'http:' || u.protocol === 'https:' || u.protocol === 'ws:' || u.protocol === 'wss:') host = u.host;
    } catch {
      /* not a URL a host serves */
    }
    requests.push({ method: r.method(), url, host, auth: r.headers()['authorization'] || '', body: r.postData() || '' });
  });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.setDefaultTimeout(OP_TIMEOUT);

  // 1. The page and its spec.
  await openUi(page);
  const spec = await page.evaluate(() => {
    const s = window.ui && window.ui.specSelectors && window.ui.specSelectors.specJson();
    return s && s.toJS ? s.toJS() : null;
  });
  const ui = spec ? 'window.ui' : 'node fetch';
  const doc = spec || (await (await fetch(`${BASE}/api-docs/openapi.json`)).json());
  console.log(`swagger: ${BASE}/swagger-ui/ (spec ${doc.openapi}, ${Object.keys(doc.paths || {}).length} paths, read from ${ui})`);

  const configs = await page.evaluate(() => {
    const c = window.ui && window.ui.getConfigs ? window.ui.getConfigs() : {};
    return { validatorUrl: c.validatorUrl ?? null, persistAuthorization: !!c.persistAuthorization, filter: c.filter, deepLinking: !!c.deepLinking };
  });
  const validatorOff = configs.validatorUrl === null || configs.validatorUrl === '' || String(configs.validatorUrl).toLowerCase() === 'none';
  check('UI config: validatorUrl off (else the badge calls validator.swagger.io from a non-local host)', validatorOff, `validatorUrl=${JSON.stringify(configs.validatorUrl)}`);
  check('UI config: persistAuthorization', configs.persistAuthorization, `persistAuthorization=${configs.persistAuthorization}`);
  check('UI config: filter', !!configs.filter, `filter=${JSON.stringify(configs.filter)}`);
  check('UI config: deepLinking', configs.deepLinking, `deepLinking=${configs.deepLinking}`);
  const servers = Array.isArray(doc.servers) ? doc.servers : [];
  check('spec: top-level servers entry', servers.length > 0, servers.length ? servers.map((s) => s.url).join(', ') : 'no `servers`');

  // 2. Which operations: every GET, and POST /customers; login through the UI.
  const ops = [];
  let login = null;
  let createCustomer = null;
  let me = null;
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item || {})) {
      if (method === 'get') ops.push({ method, path, op });
      if (method === 'get' && /\/me$/.test(path)) me = { method, path, op };
      if (method === 'post' && /\/auth\/login$/.test(path)) login = { method, path, op };
      if (method === 'post' && /\/customers$/.test(path)) createCustomer = { method, path, op };
    }
  }
  // A spec that lost its operations must not pass for an empty run.
  const MIN_GETS = 30;
  check(`the spec has at least ${MIN_GETS} GET operations`, ops.length >= MIN_GETS, `${ops.length} GETs`);

  if (createCustomer) ops.push(createCustomer);
  else rows.push({ method: 'POST', path: '/…/customers', status: 'missing', ok: false, note: 'no POST …/customers in the spec' });
  if (!login) throw new Error('no POST …/auth/login in the spec');

  // 3. A token: POST /auth/login's "Try it out" with its default example body.
  let token = '';
  let tokenFrom = '';
  const lr = await executeOperation(page, login);
  if (lr.ok) {
    try {
      token = JSON.parse(lr.body).access_token || '';
    } catch {
      /* fall through */
    }
  }
  if (token) {
    tokenFrom = `Swagger UI: "Try it out" on POST ${login.path} with its default example body (${lr.status})`;
  } else {
    const res = await fetch(`${BASE}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: EMAIL, password: PASSWORD }),
    });
    const body = await res.text();
    if (!res.ok) throw new Error(`fallback login from node as ${EMAIL} failed: ${res.status} ${excerpt(body)}`);
    token = JSON.parse(body).access_token;
    tokenFrom = `FALLBACK: fetch from node as ${EMAIL} (the UI's default login example gave ${lr.status}: ${excerpt(lr.body, 160)})`;
  }
  check(`login through Swagger UI with POST ${login.path}'s default example`, lr.ok && !!token, lr.ok ? `${lr.status}` : `${lr.status}: ${excerpt(lr.body, 200)}`);
  console.log(`swagger: token from ${tokenFrom}`);

  // 4. "Authorize": type the token, confirm, close.
  await authorize(page, token);
  const locked = await page.locator('.auth-wrapper .btn.authorize').first().getAttribute('class');
  check('"Authorize" accepted the token (button shows locked)', /\blocked\b/.test(locked || ''), `class="${locked}"`);

  // 5. Every GET and POST /customers, with the UI's defaults.
  for (const o of ops) {
    const r = await executeOperation(page, o);
    rows.push(r);
  }

  // 6. After a reload the authorization is still there (persistAuthorization), and works.
  await page.reload();
  await openUi(page, false);
  const lockedAfter = (await page.locator('.auth-wrapper .btn.authorize').first().getAttribute('class')) || '';
  let persisted = /\blocked\b/.test(lockedAfter) && !/\bunlocked\b/.test(lockedAfter);
  let detail = `after reload the Authorize button is "${lockedAfter}"`;
  if (me) {
    const r = await executeOperation(page, me);
    persisted = persisted && r.ok;
    detail += `; GET ${me.path} → ${r.status}`;
  }
  check('authorization persists across a reload (persistAuthorization)', persisted, detail);

  // 7. No request to another host (the validator badge, a CDN, a `servers` URL elsewhere).
  const foreign = requests.filter((r) => r.host && r.host !== SERVER_HOST);
  check(`every request the page made went to ${SERVER_HOST}`, foreign.length === 0,
    foreign.length ? foreign.map((r) => `${r.method} ${r.url}`).slice(0, 10).join('; ') : `${requests.length} requests`);

  report(tokenFrom);
  const failed = rows.filter((r) => !r.ok).length + checks.filter((c) => !c.ok).length;
  return failed ? 1 : 0;
}

async function openUi(page, first = true) {
  if (first) await page.goto(`${BASE}/swagger-ui/`, { waitUntil: 'domcontentloaded' });
  const outcome = await Promise.race([
    // Operations, or (docExpansion "none") only their tags.
    page.waitForSelector('.opblock, .opblock-tag-section', { timeout: 30000 }).then(() => 'ok', () => 'timeout'),
    page
      .waitForSelector('.swagger-ui .errors-wrapper .errors, .swagger-ui .loading-container .errors', { timeout: 30000 })
      .then(() => 'error', () => 'timeout'),
  ]);
  if (outcome !== 'ok') {
    const text = await page.locator('.swagger-ui').innerText().catch(() => '');
    throw new Error(`Swagger UI did not render the spec: ${excerpt(text)}`);
  }
  // Tags collapsed (docExpansion "none") render no operations: open them all.
  const closed = page.locator('.opblock-tag-section:not(.is-open) > .opblock-tag');
  for (let i = await closed.count(); i > 0; i--) {
    await closed.first().click();
  }
}

async function authorize(page, token) {
  await page.locator('.auth-wrapper .btn.authorize').first().click();
  const modal = page.locator('.modal-ux');
  await modal.waitFor();
  // The bearer scheme's value box (http, Bearer), whatever the scheme is named.
  const input = modal.locator('.auth-container input[type="text"], .auth-container input[type="password"]').first();
  await input.fill(token);
  await modal.locator('.auth-btn-wrapper button.authorize').first().click();
  // Once authorized the modal says "Logout"; then "Close".
  await modal.locator('.auth-btn-wrapper button', { hasText: /logout/i }).first().waitFor({ timeout: 10000 });
  await modal.locator('.auth-btn-wrapper .btn-done, .close-modal').first().click();
  await modal.waitFor({ state: 'detached', timeout: 10000 });
}

// Expand the operation, "Try it out", "Execute" with the UI's defaults, wait for the live
// response; collapse it again. Returns a table row.
async function executeOperation(page, { method, path }) {
  const row = { method: method.toUpperCase(), path, status: '', ok: false, note: '', body: '' };
  const block = page
    .locator(`.opblock.opblock-${method}`, { has: page.locator(`.opblock-summary-path[data-path="${cssString(path)}"]`) })
    .first();
  try {
    if ((await block.count()) === 0) {
      row.status = 'missing';
      row.note = 'no such operation in the page';
      return row;
    }
    await block.scrollIntoViewIfNeeded();
    const isOpen = async () => /\bis-open\b/.test((await block.getAttribute('class')) || '');
    if (!(await isOpen())) {
      const control = block.locator('.opblock-summary-control');
      await ((await control.count()) ? control.first() : block.locator('.opblock-summary').first()).click();
    }
    const tryOut = block.locator('.try-out__btn').first();
    await tryOut.waitFor();
    if (!/\bcancel\b/.test((await tryOut.getAttribute('class')) || '')) await tryOut.click();
    const execute = block.locator('.btn.execute').first();
    await execute.waitFor();
    const sentBefore = requests.length;
    await execute.click();
    const status = block.locator('.live-responses-table tr.response td.response-col_status').first();
    const deadline = Date.now() + OP_TIMEOUT;
    let sent = false;
    for (;;) {
      if (await status.count()) break;
      sent = sent || requests.slice(sentBefore).some((r) => r.host !== '' && !r.url.includes('/swagger-ui/'));
      if (!sent && Date.now() - (deadline - OP_TIMEOUT) > 1500) {
        const invalid = await block.locator('.validation-errors, .parameters input.invalid, .parameters select.invalid, .body-param textarea.invalid').count();
        if (invalid) {
          const names = await block
            .locator('.parameters tr:has(.invalid) .parameter__name')
            .allInnerTexts()
            .catch(() => []);
          const errors = await block.locator('.validation-errors').allInnerTexts().catch(() => []);
          row.status = 'not sent';
          row.note = `the UI refused to send: ${names.length ? `required parameter(s) without a default: ${names.map((n) => n.replace(/[\s*]+/g, '')).join(', ')}` : excerpt(errors.join(' '))}`;
          return row;
        }
      }
      if (Date.now() > deadline) {
        row.status = 'timeout';
        row.note = `no live response within ${OP_TIMEOUT} ms${sent ? ' (request sent)' : ' (nothing sent)'}`;
        return row;
      }
      await page.waitForTimeout(150);
    }
    const statusText = (await status.innerText()).trim();
    const code = /\b([1-5]\d\d)\b/.exec(statusText);
    // Swagger UI shows "Undocumented" and "Failed to fetch" when no response came back at all.
    row.status = code ? Number(code[1]) : 'no response';
    row.ok = !!code && row.status >= 200 && row.status < 300;
    const bodyBox = block.locator('.live-responses-table tr.response .response-col_description .highlight-code pre').first();
    row.body = (await bodyBox.count()) ? await bodyBox.innerText() : await block.locator('.live-responses-table tr.response .response-col_description').first().innerText();
    if (!code) row.note = `the browser got no HTTP response (network or CORS failure; Swagger UI says "${excerpt(statusText, 40)}")`;
    const sentReq = requests.slice(sentBefore).filter((r) => r.host !== '' && !r.url.includes('/swagger-ui/')).pop();
    if (sentReq) row.sent = `${sentReq.method} ${sentReq.url}${sentReq.body ? ` ${excerpt(sentReq.body, 300)}` : ''}${sentReq.auth ? '' : ' (no Authorization header)'}`;
    if (!row.ok) await screenshot(page, `${row.method}-${path}`);
    return row;
  } catch (e) {
    row.status = 'error';
    row.note = excerpt(e && e.message ? e.message.split('\n')[0] : e, 200);
    await screenshot(page, `${row.method}-${path}`);
    return row;
  } finally {
    // Collapse it again: a page with every operation open gets slow.
    if (/\bis-open\b/.test((await block.getAttribute('class', { timeout: 2000 }).catch(() => '')) || '')) {
      await block.locator('.opblock-summary-control, .opblock-summary').first().click({ timeout: 5000 }).catch(() => {});
    }
  }
}

async function screenshot(page, name) {
  try {
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, `${name.replace(/[^A-Za-z0-9_-]+/g, '_')}.png`) });
  } catch {
    /* a screenshot is a nicety */
  }
}

function report(tokenFrom) {
  const w1 = Math.max(6, ...rows.map((r) => r.method.length));
  const w2 = Math.max(4, ...rows.map((r) => r.path.length));
  console.log('');
  console.log(`${'method'.padEnd(w1)}  ${'path'.padEnd(w2)}  status`);
  console.log(`${'-'.repeat(w1)}  ${'-'.repeat(w2)}  ------`);
  for (const r of rows) {
    console.log(`${r.method.padEnd(w1)}  ${r.path.padEnd(w2)}  ${String(r.status)}${r.ok ? '' : '   FAIL'}`);
  }
  const bad = rows.filter((r) => !r.ok);
  if (bad.length) {
    console.log('\nfailing operations:');
    for (const r of bad) {
      console.log(`  ${r.method} ${r.path} → ${r.status}${r.note ? ` — ${r.note}` : ''}`);
      if (r.sent) console.log(`      sent: ${r.sent}`);
      if (r.body) console.log(`      body: ${excerpt(r.body)}`);
    }
  }
  console.log('\nchecks:');
  for (const c of checks) console.log(`  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
  if (consoleErrors.length) {
    console.log(`\nbrowser console errors (${consoleErrors.length}, not counted):`);
    for (const e of [...new Set(consoleErrors)].slice(0, 10)) console.log(`  ${excerpt(e, 200)}`);
  }
  const passed = rows.length - bad.length;
  const cpassed = checks.filter((c) => c.ok).length;
  console.log(`\ntoken: ${tokenFrom}`);
  console.log(`swagger: ${passed}/${rows.length} operations 2xx, ${cpassed}/${checks.length} checks ok, ${requests.length} requests, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  console.log(`${passed + cpassed} passed, ${bad.length + checks.length - cpassed} failed`);
}
