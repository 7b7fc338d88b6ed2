// Runs the demo page's browser walk-through (demo.e2e.mjs: login, me,
// orders cached false then true, the interceptor refreshing an expired
// access token through the HttpOnly cookie, logout) under node --test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ci } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
if (!haveChromium && ci) {
  throw new Error(`Chromium not found at ${chromiumPath}: under CI the browser tests must run`);
}

test('demo page: the interceptor pattern of seed 001 in a real browser', { skip: haveChromium ? false : 'no Chromium', timeout: 180_000 }, () => {
  const run = spawnSync(process.execPath, [path.join(here, 'demo.e2e.mjs')], {
    cwd: here,
    env: { ...process.env, LATCH_REPO: path.resolve(here, '..') },
    encoding: 'utf8',
    timeout: 170_000,
  });
  assert.equal(run.status, 0, `demo walk-through failed:\n${run.stdout}\n${run.stderr}`);
});
