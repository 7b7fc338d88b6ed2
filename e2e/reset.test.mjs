// Browser test of password reset: the link is taken from the mail as it
// arrived at a real SMTP server (mailpit, started by scripts/testenv.sh:
// LATCH_TEST_SMTP_ADDR, LATCH_TEST_MAILPIT_API), opened in Debian's
// Chromium, and the new password set on latch's own reset page (a plain
// form, no script); then the new password logs in over the API.
//
//   scripts/testenv.sh node --test e2e/reset.test.mjs     (make e2e does)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { ci, freePort, stop, waitHealthy } from './harness.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const artifacts = process.env.E2E_ARTIFACTS || path.join(tmpdir(), 'latch-e2e');
const smtp = process.env.LATCH_TEST_SMTP_ADDR;
const mailpit = process.env.LATCH_TEST_MAILPIT_API;

let skip = false;
if (!existsSync(chromiumPath)) skip = `Chromium not found at ${chromiumPath}`;
else if (!smtp || !mailpit) skip = 'LATCH_TEST_SMTP_ADDR / LATCH_TEST_MAILPIT_API unset: run under scripts/testenv.sh';
if (skip && ci) throw new Error(`${skip} (CI is set: the browser tests must run)`);

// resetLink waits for the mail to address and returns the link in its text.
async function resetLink(address, deadline = Date.now() + 20_000) {
  while (Date.now() < deadline) {
    const r = await fetch(`${mailpit}/api/v1/search?query=${encodeURIComponent(`to:"${address}"`)}`);
    const list = await r.json();
    if (list.messages?.length) {
      const msg = await (await fetch(`${mailpit}/api/v1/message/${list.messages[0].ID}`)).json();
      const m = msg.Text.match(/https?:\/\/\S+\/reset\/[A-Za-z0-9_-]+\/[A-Za-z0-9]+\//);
      assert.ok(m, 'no reset link in the mail');
      return m[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no mail to ${address} within 20 s`);
}

describe('password reset in a browser', { skip }, () => {
  let tmp, latch, base, browser, output = '';
  const address = `e2e-${Date.now()}-${process.pid}@example.com`;
  const oldPassword = 'correct horse battery staple';
  const newPassword = 'a passphrase set in the browser';

  before(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'latch-e2e-reset-'));
    mkdirSync(artifacts, { recursive: true });
    const bin = path.join(tmp, 'latch');
    const build = spawnSync('go', ['build', '-o', bin, './cmd/latch'], { cwd: repo, encoding: 'utf8' });
    assert.equal(build.status, 0, `go build: ${build.stderr}`);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env,
      LATCH_DATA_DIR: path.join(tmp, 'data'),
      LATCH_COOKIE_SECURE: 'false',
      LATCH_THROTTLE_ANON: 'off',
      LATCH_DATABASE_URL: '',
      LATCH_REDIS_URL: '',
      LATCH_SMTP_URL: `smtp://${smtp}`,
      LATCH_PUBLIC_URL: base,
      LATCH_ADDR: `127.0.0.1:${port}`,
    };
    const create = spawnSync(bin, ['createuser', 'erin', '--email', address], { input: oldPassword + '\n', env, encoding: 'utf8' });
    assert.equal(create.status, 0, `latch createuser: ${create.stdout}${create.stderr}`);
    latch = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    latch.stdout.on('data', (d) => { output += d; });
    latch.stderr.on('data', (d) => { output += d; });
    await waitHealthy(base, latch);
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  });

  after(async () => {
    await browser?.close();
    await stop(latch); // this process only, by its pid
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('the mailed link sets a new password on the reset page', async () => {
    const r = await fetch(base + '/api/password/reset/', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: address }),
    });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { detail: 'Password reset e-mail has been sent.' });
    const link = await resetLink(address);
    assert.ok(link.startsWith(base + '/reset/'), `link ${link} is not on ${base}`);

    const context = await browser.newContext({ javaScriptEnabled: false }); // the page needs none
    const page = await context.newPage();
    const res = await page.goto(link);
    assert.equal(res.status(), 200);
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('New password again').fill(newPassword + ' typo');
    await page.getByRole('button', { name: 'Set my password' }).click();
    await page.getByRole('alert').filter({ hasText: 'The two password fields didn’t match.' }).waitFor();

    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByLabel('New password again').fill(newPassword);
    await page.getByRole('button', { name: 'Set my password' }).click();
    await page.getByRole('status').filter({ hasText: 'Your password has been reset' }).waitFor();
    await page.screenshot({ path: path.join(artifacts, 'reset-done.png') });
    await context.close();

    const login = (pw) => fetch(base + '/api/token/', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username: 'erin', password: pw }),
    });
    const ok = await login(newPassword);
    const body = await ok.text();
    assert.equal(ok.status, 200, `login with the new password: ${body}`);
    assert.ok(JSON.parse(body).access);
    assert.equal((await login(oldPassword)).status, 401);
    assert.doesNotMatch(output, /\/reset\/[A-Za-z0-9_-]+\/[A-Za-z0-9]{20,}/, 'latch logged the reset link');
  });
});
