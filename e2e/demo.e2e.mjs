// Browser test of latch's demo page (/demo/): a real latch binary, a real
// Chromium, the interceptor refreshing through the HttpOnly cookie.
//
//   cd DIR_WITH_playwright-core && node /path/to/demo.e2e.mjs
//
// playwright-core is resolved next to this file first, then from the
// current directory. Environment: CHROMIUM (default /usr/bin/chromium),
// SCREENSHOT (default /tmp/demo.png), LATCH_REPO (default: the directory
// above this file that holds go.mod).
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const screenshot = process.env.SCREENSHOT ?? '/tmp/demo.png';
const password = 'correct horse battery staple';

async function loadPlaywright() {
  try {
    return await import('playwright-core');
  } catch {
    return createRequire(path.join(process.cwd(), 'resolve.js'))('playwright-core');
  }
}

function repoRoot() {
  if (process.env.LATCH_REPO) return process.env.LATCH_REPO;
  for (let dir = here; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'go.mod'))) return dir;
  }
  throw new Error('go.mod not found above ' + here + '; set LATCH_REPO');
}

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

async function waitHealthy(base, child) {
  const deadline = Date.now() + 15000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error('latch exited with ' + child.exitCode);
    try {
      const res = await fetch(base + '/healthz');
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('latch did not become healthy');
}

function check(cond, msg) {
  if (!cond) throw new Error('check failed: ' + msg);
  console.log('ok  ' + msg);
}

const { chromium } = await loadPlaywright();
const repo = repoRoot();
const tmp = mkdtempSync(path.join(tmpdir(), 'latch-demo-e2e-'));
const bin = path.join(tmp, 'latch');
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const env = {
  ...process.env,
  LATCH_ADDR: `127.0.0.1:${port}`,
  LATCH_DATA_DIR: path.join(tmp, 'data'),
  LATCH_COOKIE_SECURE: 'false',
  LATCH_THROTTLE_ANON: 'off',
  LATCH_LOG_LEVEL: 'warn',
};

let latch;
let browser;
let failed = false;
try {
  execFileSync('go', ['build', '-o', bin, './cmd/latch'], { cwd: repo, stdio: 'inherit' });
  execFileSync(bin, ['createuser', 'alice'], { env: { ...env, LATCH_PASSWORD: password }, stdio: 'inherit' });
  latch = spawn(bin, ['serve'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHealthy(base, latch);

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  const problems = [];
  page.on('pageerror', (err) => problems.push('page error: ' + err.message));
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().includes('/api/')) problems.push(r.status() + ' ' + r.url());
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push('console error: ' + msg.text());
  });

  const out = () => page.locator('#out').textContent();
  const count = (text, needle) => text.split(needle).length - 1;
  // waitOut waits until the output holds needle at least n times.
  const waitOut = (needle, n = 1) => page.waitForFunction(
    ([s, k]) => document.getElementById('out').textContent.split(s).length - 1 >= k,
    [needle, n], { timeout: 10000 });
  const refreshes = async () => Number(await page.locator('#refreshes').textContent());

  const res = await page.goto(base + '/demo/');
  check(res.status() === 200, 'GET /demo/ answers 200');
  check((res.headers()['content-security-policy'] ?? '').includes("script-src 'self'"), 'the page is served with a CSP');
  check((await page.locator('#status').textContent()) === 'logged out', 'starts logged out');

  await page.fill('#username', 'alice');
  await page.fill('#password', password);
  await page.click('#login-button');
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('logged in as alice'));
  check(true, 'login through /api/cookie/login/');
  const cookies = await page.context().cookies();
  const refreshCookie = cookies.find((c) => c.name === 'refresh');
  check(refreshCookie && refreshCookie.httpOnly, 'the refresh token is in an HttpOnly cookie');
  check(await page.evaluate(() => !document.cookie.includes('refresh=')), 'page scripts cannot read it');

  await page.click('#me');
  await waitOut('GET /api/me/ → 200');
  check((await out()).includes('"username":"alice"'), 'Me shows alice');

  await page.click('#orders');
  await waitOut('"cached":false');
  await page.click('#orders');
  await waitOut('"cached":true');
  const o = await out();
  check(o.indexOf('"cached":false') < o.indexOf('"cached":true'), 'Orders: cached false, then true');

  await page.click('#expire');
  await page.click('#me');
  await waitOut('GET /api/me/ → 200', 2);
  check(await refreshes() === 1, 'after Expire access, Me still works through one refresh');
  check((await out()).includes('refresh → 200'), 'the refresh is shown');

  await page.click('#expire');
  await page.click('#parallel');
  await waitOut('GET /api/me/ → 200', 7);
  check(await refreshes() === 2, 'five concurrent calls with a bad token share one refresh');
  check(count(await out(), 'refreshing (POST /api/cookie/refresh/)') === 2, 'two refresh requests in all');

  const meWith = (token) => page.evaluate(async (t) => (await fetch('/api/me/', { headers: { Authorization: 'Bearer ' + t } })).status, token);
  const before = await page.evaluate(() => access);
  await page.click('#logout');
  await waitOut('POST /api/cookie/logout/ → 205');
  check(!(await page.context().cookies()).some((c) => c.name === 'refresh'), 'logout clears the cookie');
  check(await meWith(before) === 401, 'the access token of the logged-out session is refused');
  await page.click('#me');
  await waitOut('GET /api/me/ → logged out');
  check((await page.locator('#status').textContent()) === 'logged out', 'Me after logout: logged out');

  // Without the cookie (cleared, or expired first), logout still ends the
  // session, through the access token.
  await page.fill('#username', 'alice');
  await page.fill('#password', password);
  await page.click('#login-button');
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('logged in as alice'));
  const second = await page.evaluate(() => access);
  await page.context().clearCookies();
  await page.click('#logout');
  await waitOut('POST /api/cookie/logout/ → 205', 2);
  check(await meWith(second) === 401, 'logout without the cookie revokes the session too');
  check((await page.locator('#status').textContent()) === 'logged out', 'logged out after the cookie-less logout');

  await page.screenshot({ path: screenshot, fullPage: true });
  console.log('screenshot: ' + screenshot);
  // The failed refresh after logout is an expected 401 the browser logs.
  const unexpected = problems.filter((p) => !p.includes('401'));
  check(unexpected.length === 0, 'no page errors or CSP violations' + (unexpected.length ? ': ' + unexpected.join('; ') : ''));
  console.log('\npage output:\n' + (await out()));
} catch (err) {
  failed = true;
  console.error(err);
} finally {
  if (browser) await browser.close();
  if (latch && latch.exitCode === null) {
    latch.kill('SIGTERM');
    await new Promise((r) => latch.once('exit', r));
  }
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
