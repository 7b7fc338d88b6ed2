// Browser test of a frontend on another origin of the same site (a dev
// server on one port, latch on another), as SimpleJWT frontends run beside
// django-cors-headers: with its origin in LATCH_CORS_ALLOWED_ORIGINS, the
// page logs in through the cookie endpoints with credentials, calls
// /api/me/ with the access token (a preflighted request), refreshes through
// the HttpOnly cookie and logs out; a page of an origin not listed cannot
// read latch's answers at all.
//
//   node --test e2e/cors.test.mjs     (make e2e does)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { ci, freePort, stop, waitHealthy } from './harness.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const password = 'correct horse battery staple';

let skip = false;
if (!existsSync(chromiumPath)) skip = `Chromium not found at ${chromiumPath}`;
if (skip && ci) throw new Error(`${skip} (CI is set: the browser tests must run)`);

// frontend serves an empty page: the app whose script calls latch.
async function frontend() {
  const port = await freePort();
  const srv = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>app</title><p>app</p>');
  });
  await new Promise((resolve) => srv.listen(port, '127.0.0.1', resolve));
  return { srv, origin: `http://127.0.0.1:${port}` };
}

// walkThrough runs in the page: what an axios or fetch frontend does.
async function walkThrough({ api, password }) {
  const steps = {};
  const call = async (name, url, init) => {
    try {
      const r = await fetch(api + url, { credentials: 'include', ...init });
      steps[name] = { status: r.status, body: await r.text() };
    } catch (e) {
      steps[name] = { error: String(e) };
    }
    return steps[name];
  };
  const json = { 'Content-Type': 'application/json' };
  const login = await call('login', '/api/cookie/login/', { method: 'POST', headers: json, body: JSON.stringify({ username: 'carol', password }) });
  if (login.status !== 200) return steps;
  const { access } = JSON.parse(login.body);
  await call('me', '/api/me/', { headers: { Authorization: `Bearer ${access}` } });
  const refreshed = await call('refresh', '/api/cookie/refresh/', { method: 'POST' });
  if (refreshed.status !== 200) return steps;
  const next = JSON.parse(refreshed.body).access;
  await call('meAfterRefresh', '/api/me/', { headers: { Authorization: `Bearer ${next}` } });
  await call('logout', '/api/cookie/logout/', { method: 'POST' });
  await call('refreshAfterLogout', '/api/cookie/refresh/', { method: 'POST' });
  await call('meAfterLogout', '/api/me/', { headers: { Authorization: `Bearer ${next}` } });
  return steps;
}

describe('a frontend on another origin (CORS)', { skip }, () => {
  let tmp, latch, api, browser, allowed, other, output = '';

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'latch-e2e-cors-'));
    const bin = path.join(tmp, 'latch');
    const build = spawnSync('go', ['build', '-o', bin, './cmd/latch'], { cwd: repo, encoding: 'utf8' });
    assert.equal(build.status, 0, `go build: ${build.stderr}`);
    allowed = await frontend();
    other = await frontend();
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env,
      LATCH_DATA_DIR: path.join(tmp, 'data'),
      LATCH_COOKIE_SECURE: 'false', // plain http on loopback
      LATCH_THROTTLE_ANON: 'off',
      LATCH_DATABASE_URL: '',
      LATCH_REDIS_URL: '',
      LATCH_ADDR: `127.0.0.1:${port}`,
      LATCH_CORS_ALLOWED_ORIGINS: allowed.origin,
    };
    const create = spawnSync(bin, ['createuser', 'carol', '--email', 'carol@example.com'], { input: password + '\n', env, encoding: 'utf8' });
    assert.equal(create.status, 0, `latch createuser: ${create.stdout}${create.stderr}`);
    latch = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    latch.stdout.on('data', (d) => { output += d; });
    latch.stderr.on('data', (d) => { output += d; });
    await waitHealthy(api, latch);
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  });

  after(async () => {
    await browser?.close();
    allowed?.srv.close();
    other?.srv.close();
    await stop(latch); // this process only, by its pid
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('a listed origin logs in, refreshes through the cookie and logs out', async () => {
    const page = await browser.newPage();
    await page.goto(allowed.origin + '/');
    const steps = await page.evaluate(walkThrough, { api, password });
    await page.close();
    const why = `steps: ${JSON.stringify(steps)}\nlatch: ${output}`;
    assert.equal(steps.login?.status, 200, why);
    assert.equal(steps.me?.status, 200, why);
    assert.equal(JSON.parse(steps.me.body).username, 'carol', why);
    assert.equal(steps.refresh?.status, 200, why); // the cookie travelled, and the CSRF check let it in
    assert.equal(steps.meAfterRefresh?.status, 200, why);
    assert.equal(steps.logout?.status, 205, why);
    assert.equal(steps.refreshAfterLogout?.status, 401, why); // the cookie was cleared
    assert.equal(steps.meAfterLogout?.status, 401, why); // the session is gone at once
  });

  test('an origin not listed cannot read latch’s answers', async () => {
    const page = await browser.newPage();
    await page.goto(other.origin + '/');
    const steps = await page.evaluate(walkThrough, { api, password });
    await page.close();
    assert.match(steps.login?.error ?? '', /TypeError/, `steps: ${JSON.stringify(steps)}`);
    assert.equal(steps.me, undefined);
  });
});
