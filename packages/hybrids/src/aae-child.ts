/**
 * The child process of the AAE kill/resume test: trains `toyAae` with checkpoints every 3 steps
 * (resuming if the directory has some), printing `step N` after each step and sleeping so the
 * parent can kill it mid-run. Usage: aae-child.ts <dir> <steps> <sleepMs>.
 */
import { initBackend } from '@dgm-js/core-tensors';
import { toyAae } from './aae-fixture.js';

const [dir, steps, sleepMs] = process.argv.slice(2);
if (!dir || !steps || !sleepMs) throw new Error('usage: aae-child.ts <dir> <steps> <sleepMs>');
await initBackend({ quiet: true });
const { trainer } = toyAae({
  dir,
  onStep: async (step) => {
    process.stdout.write(`step ${step}\n`);
    await new Promise((r) => setTimeout(r, Number(sleepMs)));
  },
});
const r = await trainer.fit({ steps: Number(steps) });
process.stdout.write(`done ${r.step}\n`);
