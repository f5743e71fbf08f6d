// Reads every package's vitest JSON report and prints one line `N passed, N failed`.
// Exits non-zero when any test failed, a package with tests wrote no report, no test ran,
// or the test command itself failed (argv[2] is its exit status).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const status = Number(process.argv[2] ?? '0');
let passed = 0;
let failed = 0;
let skipped = 0;
const problems = [];
for (const group of ['packages', 'apps']) {
  if (!existsSync(group)) continue;
  for (const name of readdirSync(group)) {
    const dir = join(group, name);
    const pkgPath = join(dir, 'package.json');
    if (!existsSync(pkgPath)) continue;
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
    if (!pkg.scripts?.test) continue;
    const report = join(dir, 'test-results.json');
    if (!existsSync(report)) {
      problems.push(`${pkg.name}: no test report (the test run crashed or did not start)`);
      failed++;
      continue;
    }
    const r = JSON.parse(readFileSync(report, 'utf8'));
    passed += r.numPassedTests ?? 0;
    failed += r.numFailedTests ?? 0;
    skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    // A suite that failed to load counts as a failure even when it reports no failed test.
    for (const s of r.testResults ?? []) {
      if (s.status === 'failed' && (s.assertionResults ?? []).every((a) => a.status !== 'failed')) {
        problems.push(`${pkg.name}: ${s.name} failed to run: ${(s.message ?? '').split('\n')[0]}`);
        failed++;
      }
    }
  }
}
for (const p of problems) console.log(`problem: ${p}`);
if (status !== 0 && failed === 0)
  console.log(`problem: the test command exited with status ${status}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 || status !== 0 ? 1 : 0);
