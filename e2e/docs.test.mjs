// Browser tests of latch: Swagger UI at /api/docs/ used as a person would
// (log in, authorize, call /api/me/), and cookie mode seen from a page
// (the refresh cookie is HttpOnly, refresh and logout work through it).
//
// A real latch binary and Debian's Chromium (no downloaded browser):
//
//   npm ci --prefix e2e && node --test e2e/
//
// Environment: CHROMIUM (default /usr/bin/chromium); E2E_ARTIFACTS, where
// screenshots go (default $TMPDIR/latch-e2e). Without Chromium the tests
// are skipped, except under CI (CI set to a true value, as
// internal/testenv reads it), where that is a failure.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { ci } from './harness.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = process.env.E2E_ARTIFACTS || path.join(tmpdir(), 'latch-e2e');
const password = 'correct horse battery staple';
const launchArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

const haveChromium = existsSync(chromiumPath);
if (!haveChromium && ci) {
  throw new Error(`Chromium not found at ${chromiumPath}: under CI the browser tests must run (make e2e installs it)`);
}
const skip = haveChromium ? false : `Chromium not found at ${chromiumPath} (apt-get install chromium, or set CHROMIUM)`;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitHealthy(base, proc, deadline = Date.now() + 30_000) {
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`latch exited with ${proc.exitCode}`);
    try {
      const r = await fetch(base + '/healthz');
      if (r.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('latch did not become healthy in 30 s');
}

describe('latch in a browser', { skip }, () => {
  let tmp, latch, base, browser, output = '';
  const env = () => ({
    ...process.env,
    LATCH_DATA_DIR: path.join(tmp, 'data'),
    LATCH_COOKIE_SECURE: 'false',
    LATCH_THROTTLE_ANON: 'off',
    LATCH_DATABASE_URL: '',
    LATCH_REDIS_URL: '',
  });

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'latch-e2e-'));
    mkdirSync(artifacts, { recursive: true });
    const bin = path.join(tmp, 'latch');
    const build = spawnSync('go', ['build', '-o', bin, './cmd/latch'], { cwd: repo, encoding: 'utf8' });
    assert.equal(build.status, 0, `go build: ${build.stderr}`);
    const create = spawnSync(bin, ['createuser', 'alice'], { input: password + '\n', env: env(), encoding: 'utf8' });
    assert.equal(create.status, 0, `latch createuser: ${create.stdout}${create.stderr}`);

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    latch = spawn(bin, ['serve'], { env: { ...env(), LATCH_ADDR: `127.0.0.1:${port}` }, stdio: ['ignore', 'pipe', 'pipe'] });
    latch.stdout.on('data', (d) => { output += d; });
    latch.stderr.on('data', (d) => { output += d; });
    await waitHealthy(base, latch);
    browser = await chromium.launch({ executablePath: chromiumPath, args: launchArgs });
  });

  after(async () => {
    await browser?.close();
    if (latch && latch.exitCode === null) {
      const exited = new Promise((r) => latch.once('exit', r));
      process.kill(latch.pid, 'SIGTERM'); // this process only, by its pid
      await exited;
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  // newPage opens a page that records what a person would not see: script
  // errors, CSP violations, and requests that leave latch's origin.
  async function newPage() {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 40[0-9]/.test(m.text())) {
        problems.push(`console error: ${m.text()}`);
      }
    });
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.origin !== base && u.protocol !== 'data:') problems.push(`request outside latch: ${r.url()}`);
    });
    return { context, page, problems };
  }

  test('Swagger UI: log in, authorize, call /api/me/', async (t) => {
    const { context, page, problems } = await newPage();
    const res = await page.goto(base + '/api/docs/');
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await page.locator('.information-container .title').filter({ hasText: 'latch' }).waitFor();
    assert.match(await page.locator('.information-container .title').innerText(), /OAS 3\.1/);
    await page.locator('#operations-tokens-obtainToken').waitFor();
    await page.screenshot({ path: path.join(artifacts, 'swagger-ui-top.png') });

    // POST /api/token/: expand, Try it out, fill the body, Execute.
    const login = page.locator('#operations-tokens-obtainToken');
    await login.locator('.opblock-summary').first().click();
    await login.getByRole('button', { name: 'Try it out' }).click();
    const body = login.locator('textarea.body-param__text');
    await body.fill(JSON.stringify({ username: 'alice', password }));
    await login.getByRole('button', { name: 'Execute' }).click();
    const loginResponse = login.locator('.live-responses-table .response').first();
    await loginResponse.locator('.response-col_status').filter({ hasText: '200' }).waitFor();
    const loginBody = JSON.parse(await loginResponse.locator('.response-col_description pre').first().innerText());
    assert.ok(loginBody.access, 'no access token in the response shown');
    assert.ok(loginBody.refresh, 'no refresh token in the response shown');

    // Authorize with the access token.
    await page.locator('.scheme-container button.authorize').click();
    const modal = page.locator('.modal-ux');
    await modal.locator('#auth-bearer-value').fill(loginBody.access);
    // The bearer scheme's form (introspection clients have a Basic one).
    const bearerForm = modal.locator('form').filter({ has: page.locator('#auth-bearer-value') });
    await bearerForm.getByRole('button', { name: 'Apply credentials' }).click();
    await modal.getByRole('button', { name: 'Close', exact: true }).first().click();
    await modal.waitFor({ state: 'detached' });

    // GET /api/me/: expand, Try it out, Execute.
    const me = page.locator('#operations-account-getMe');
    await me.locator('.opblock-summary').first().click();
    await me.getByRole('button', { name: 'Try it out' }).click();
    await me.getByRole('button', { name: 'Execute' }).click();
    const meResponse = me.locator('.live-responses-table .response').first();
    await meResponse.locator('.response-col_status').filter({ hasText: '200' }).waitFor();
    const meBody = JSON.parse(await meResponse.locator('.response-col_description pre').first().innerText());
    assert.equal(meBody.username, 'alice');
    // The request Swagger UI sent carried the token.
    assert.match(await me.locator('.curl-command').innerText(), /Authorization: Bearer ey/);

    await meResponse.scrollIntoViewIfNeeded();
    const shot = path.join(artifacts, 'swagger-ui.png');
    await page.screenshot({ path: shot, fullPage: false });
    t.diagnostic(`screenshot: ${shot}`);

    // No token is kept in storage (persistAuthorization off): a reload
    // forgets it.
    assert.ok(!(await page.evaluate(() => JSON.stringify({ ...localStorage }))).includes('ey'), 'a token in localStorage');
    await page.reload();
    await page.locator('#operations-account-getMe').waitFor();
    assert.match(await page.locator('.scheme-container button.authorize').getAttribute('class'), /\bunlocked\b/);

    assert.deepEqual(problems, []);
    await context.close();
  });

  test('cookie mode: HttpOnly refresh cookie, refresh and logout through it', async () => {
    const { context, page, problems } = await newPage();
    await page.goto(base + '/api/docs/');
    const call = (url, init = {}) => page.evaluate(async ([url, init]) => {
      const r = await fetch(url, init);
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null, documentCookie: document.cookie };
    }, [url, init]);
    const json = { 'Content-Type': 'application/json' };

    const login = await call('/api/cookie/login/', { method: 'POST', headers: json, body: JSON.stringify({ username: 'alice', password }) });
    assert.equal(login.status, 200);
    assert.ok(login.body.access);
    assert.equal(login.body.refresh, undefined, 'refresh token in the body');
    assert.doesNotMatch(login.documentCookie, /refresh/, 'the refresh cookie is readable from script');
    const [cookie] = (await context.cookies()).filter((c) => c.name === 'refresh');
    assert.ok(cookie, 'no refresh cookie set');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.path, '/api/cookie/');
    assert.equal(cookie.sameSite, 'Lax');

    const refreshed = await call('/api/cookie/refresh/', { method: 'POST' });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    assert.ok(refreshed.body.access);
    assert.notEqual(refreshed.body.access, login.body.access);
    const me = await call('/api/me/', { headers: { Authorization: 'Bearer ' + refreshed.body.access } });
    assert.equal(me.status, 200);
    assert.equal(me.body.username, 'alice');

    const logout = await call('/api/cookie/logout/', { method: 'POST' });
    assert.equal(logout.status, 205);
    assert.deepEqual((await context.cookies()).filter((c) => c.name === 'refresh'), [], 'cookie not cleared');
    const again = await call('/api/cookie/refresh/', { method: 'POST' });
    assert.equal(again.status, 401);
    assert.equal(again.body.code, 'token_not_valid');
    const meAfter = await call('/api/me/', { headers: { Authorization: 'Bearer ' + refreshed.body.access } });
    assert.equal(meAfter.status, 401, 'access token of a logged-out session still works');

    assert.deepEqual(problems, []);
    await context.close();
  });
});
