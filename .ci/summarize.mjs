// Reads the vitest JSON reports that .ci/run kept (test-results.readme.json: the README's test
// command over every package; test-results.native.json: the native-kernel re-run of some) and
// prints one line `N passed, N failed`. Exits non-zero when any test failed, a package with tests
// wrote no README-run report, no test ran, or a test command itself failed (argv: exit statuses).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const statuses = process.argv.slice(2).map(Number);
let passed = 0;
let failed = 0;
let skipped = 0;
const problems = [];

function count(pkgName, report) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  // A suite that failed to load counts as a failure even when it reports no failed test.
  for (const s of r.testResults ?? []) {
    if (s.status === 'failed' && (s.assertionResults ?? []).every((a) => a.status !== 'failed')) {
      problems.push(`${pkgName}: ${s.name} failed to run: ${(s.message ?? '').split('\n')[0]}`);
      failed++;
    }
  }
}

for (const group of ['packages', 'apps']) {
  if (!existsSync(group)) continue;
  for (const name of readdirSync(group)) {
    const dir = join(group, name);
    const pkgPath = join(dir, 'package.json');
    if (!existsSync(pkgPath)) continue;
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
    if (!pkg.scripts?.test) continue;
    const readme = join(dir, 'test-results.readme.json');
    if (!existsSync(readme)) {
      problems.push(
        `${pkg.name}: no test report from the README's test command (crashed or did not start)`,
      );
      failed++;
    } else count(pkg.name, readme);
    const native = join(dir, 'test-results.native.json');
    if (existsSync(native)) count(`${pkg.name} (native kernels)`, native);
  }
}
for (const p of problems) console.log(`problem: ${p}`);
const STEPS = [
  "the README's test command",
  'the native-kernel tests',
  'the kernels speed guard',
  'the docs build + browser check',
];
statuses.forEach((s, i) => {
  if (s !== 0) console.log(`problem: ${STEPS[i] ?? `step ${i + 1}`} exited with status ${s}`);
});
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 || statuses.some((s) => s !== 0) ? 1 : 0);
