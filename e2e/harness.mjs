// What the browser tests share: whether this is CI, a free port, and
// waiting for latch.
import { createServer } from 'node:net';

// ci is internal/testenv's rule, so that Go and browser tests agree: CI
// set to a true value as Go's strconv.ParseBool reads it (1, t, T, TRUE,
// true, True). Under CI a missing browser or service fails the tests
// rather than skipping them.
export const ci = ['1', 't', 'T', 'TRUE', 'true', 'True'].includes(process.env.CI ?? '');

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export async function waitHealthy(base, proc, deadline = Date.now() + 30_000) {
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`latch exited with ${proc.exitCode}`);
    try {
      if ((await fetch(base + '/healthz')).ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('latch did not become healthy in 30 s');
}

// stop ends a process this test started, by its pid, and waits for it.
export async function stop(proc) {
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  process.kill(proc.pid, 'SIGTERM');
  await exited;
}
