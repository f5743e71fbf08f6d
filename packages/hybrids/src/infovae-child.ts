/**
 * The child process of the InfoVAE kill/resume test: trains `toyInfoVae` with checkpoints every 3
 * steps (resuming if the directory has some), printing `step N` after each step and sleeping so
 * the parent can kill it mid-run. Usage: infovae-child.ts <dir> <steps> <sleepMs>.
 */
import { initBackend } from '@dgm-js/core-tensors';
import { toyInfoVae } from './infovae-fixture.js';

const [dir, steps, sleepMs] = process.argv.slice(2);
if (!dir || !steps || !sleepMs) throw new Error('usage: infovae-child.ts <dir> <steps> <sleepMs>');
await initBackend({ quiet: true });
const { trainer } = toyInfoVae({
  dir,
  steps: Number(steps),
  onStep: async (i) => {
    process.stdout.write(`step ${i.step}\n`);
    await new Promise((r) => setTimeout(r, Number(sleepMs)));
  },
});
const r = await trainer.fit();
process.stdout.write(`done ${r.step}\n`);
