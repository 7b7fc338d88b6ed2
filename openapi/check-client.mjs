// Fails when the generated client's public names (gen/index.ts) hold a
// numbered duplicate (Credentials2: two components of one name) or two
// names that differ only in case (SignupResponse / SignUpResponse).
import { readFileSync } from 'node:fs';

const index = readFileSync(new URL('./gen/index.ts', import.meta.url), 'utf8');
const names = [...index.matchAll(/export (?:type )?\{([^}]*)\}/g)]
  .flatMap((m) => m[1].split(','))
  .map((n) => n.trim().split(/\s+as\s+/).pop())
  .filter(Boolean);
const problems = [];
if (names.length < 20) problems.push(`only ${names.length} exported names found in gen/index.ts`);
const seen = new Map();
for (const n of names) {
  if (/\d$/.test(n)) problems.push(`numbered name: ${n}`);
  const k = n.toLowerCase();
  if (seen.has(k) && seen.get(k) !== n) problems.push(`names differ only in case: ${seen.get(k)} / ${n}`);
  seen.set(k, n);
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`generated client: ${names.length} exported names, no numbered or case-only duplicates`);
