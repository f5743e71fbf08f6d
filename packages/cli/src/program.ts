/**
 * The `dgm` command line: commander definitions of train / eval / sample / bench, the flag
 * parsers (each error names its flag), and `main`, which runs one command line and returns the
 * exit code (0 ok, 1 a failure, 2 a usage error).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { bench } from './bench.js';
import { CliError, oneLine } from './errors.js';
import { MODEL_KINDS, MODELS, modelKind } from './specs.js';

/** Where the CLI writes (process.stdout / stderr by default; buffers in tests). */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  cwd: string;
}

const defaultIo = (): CliIo => ({
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  cwd: process.cwd(),
});

function int(flag: string, min: number): (v: string) => number {
  return (v) => {
    if (!/^-?\d+$/.test(v.trim()) || Number(v) < min || !Number.isSafeInteger(Number(v))) {
      const what = min >= 1 ? 'a positive integer' : min === 0 ? 'an integer >= 0' : 'an integer';
      throw new InvalidArgumentError(`${flag} must be ${what}, got '${v}'.`);
    }
    return Number(v);
  };
}

function positive(flag: string): (v: string) => number {
  return (v) => {
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x) || x <= 0) {
      throw new InvalidArgumentError(`${flag} must be a positive number, got '${v}'.`);
    }
    return x;
  };
}

function intList(flag: string): (v: string) => number[] {
  return (v) => {
    const parts = v.split(',').map((s) => s.trim());
    if (parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1)) {
      throw new InvalidArgumentError(
        `${flag} must be a comma-separated list of positive integers (e.g. 256 or 512,256), got '${v}'.`,
      );
    }
    return parts.map(Number);
  };
}

function nameList(flag: string, known: readonly string[]): (v: string) => string[] {
  return (v) => {
    const parts = v.split(',').map((s) => s.trim().toLowerCase());
    const bad = parts.filter((p) => !known.includes(p));
    if (parts.length === 0 || bad.length > 0) {
      throw new InvalidArgumentError(
        `${flag}: unknown '${bad.join(',') || v}'; choose from ${known.join(', ')} (comma-separated).`,
      );
    }
    return parts;
  };
}

const ALL_METRICS = ['elbo', 'iwae', 'nll', 'bpd', 'fid'];

const MODEL_HELP = MODEL_KINDS.map((k) => `  ${k.padEnd(16)} ${MODELS[k].description}`).join('\n');

/** Builds the `dgm` program; command actions report through `io` and set `state.code`. */
export function createProgram(io: CliIo = defaultIo(), state = { code: 0 }): Command {
  const program = new Command('dgm')
    .description('dgm.js on the command line: train, evaluate and sample deep generative models.')
    .version('0.1.0', '-V, --version')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: io.out,
      writeErr: io.err,
      outputError: (s, write) => write(`dgm: ${s.replace(/\n+$/, '').replace(/\n/g, ' ')}\n`),
    })
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples:
  dgm train gaussian-vae --data mnist --steps 2000 --out runs/vae
  dgm train gaussian-vae --out runs/vae --resume --steps 4000
  dgm eval runs/vae --metrics elbo,iwae,fid
  dgm sample runs/vae -n 64 --png grid.png
  dgm bench --suite vae --profile quick

Run 'dgm <command> --help' for a command's flags.`,
    );

  program
    .command('train')
    .description('Train a model on MNIST; checkpoints, log.jsonl and run.json go into --out.')
    .argument('[model]', `the model (${MODEL_KINDS.join(', ')}); may be omitted with --resume`)
    .requiredOption('--out <dir>', 'the run directory')
    .addOption(new Option('--data <name>', 'the data set').default('mnist'))
    .option('--steps <n>', 'total training steps (with --resume: the new total)', int('--steps', 1))
    .option('--batch-size <n>', 'examples per step (default 64)', int('--batch-size', 1))
    .option(
      '--train-size <n>',
      'use the first n training digits (default 60000)',
      int('--train-size', 1),
    )
    .option('--lr <x>', 'Adam learning rate (default 1e-3; the GAN 2e-4)', positive('--lr'))
    .option('--seed <n>', 'seed of the parameters, batches and noise (default 0)', int('--seed', 0))
    .option(
      '--checkpoint-every <n>',
      'steps between checkpoints (default steps/10)',
      int('--checkpoint-every', 1),
    )
    .option('--keep <n>', 'checkpoints kept (default 3)', int('--keep', 1))
    .option(
      '--hidden <sizes>',
      'hidden layer sizes of every MLP, e.g. 512,256 (default 256)',
      intList('--hidden'),
    )
    .option(
      '--latent-dim <n>',
      'latent size (gaussian-vae 16, bernoulli-vae 32, mlp-gan 64)',
      int('--latent-dim', 1),
    )
    .option(
      '--latents <n>',
      'categorical latent variables (categorical-vae, default 20)',
      int('--latents', 1),
    )
    .option(
      '--categories <n>',
      'categories per latent (categorical-vae, default 10)',
      int('--categories', 2),
    )
    .option(
      '--estimator <name>',
      'gradient estimator of a discrete-latent VAE: a name of @dgm-js/estimators, e.g. straight-through (bernoulli-vae), gumbel-softmax (categorical-vae), nvil, vimco, rebar, relax',
    )
    .option('--couplings <n>', 'affine coupling layers (realnvp, default 4)', int('--couplings', 1))
    .option(
      '--resume',
      'continue the run in --out exactly where its newest checkpoint left off',
      false,
    )
    .option('--progress', 'show progress on stderr even when it is not a terminal', false)
    .addHelpText(
      'after',
      `
Models:
${MODEL_HELP}

Progress (steps/s, examples/s, ETA) goes to stderr when it is a terminal (or with --progress).
Ctrl-C finishes the step and saves a checkpoint; --resume continues bit-exactly.

Examples:
  dgm train gaussian-vae --data mnist --steps 2000 --out runs/vae
  dgm train categorical-vae --estimator gumbel-softmax --steps 5000 --out runs/cat
  dgm train realnvp --steps 3000 --batch-size 100 --out runs/flow
  dgm train --out runs/vae --resume --steps 4000`,
    )
    .action(async (model: string | undefined, o: Record<string, unknown>) => {
      const { train } = await import('./train.js');
      const r = await train({
        model: model === undefined ? undefined : modelKind(model),
        out: o.out as string,
        data: o.data as string,
        steps: o.steps as number | undefined,
        batchSize: o.batchSize as number | undefined,
        trainSize: o.trainSize as number | undefined,
        lr: o.lr as number | undefined,
        seed: o.seed as number | undefined,
        checkpointEvery: o.checkpointEvery as number | undefined,
        keep: o.keep as number | undefined,
        resume: o.resume === true,
        progress: o.progress === true,
        options: {
          hidden: o.hidden as number[] | undefined,
          latentDim: o.latentDim as number | undefined,
          latents: o.latents as number | undefined,
          categories: o.categories as number | undefined,
          estimator: o.estimator as string | undefined,
          couplings: o.couplings as number | undefined,
        } as never,
      });
      const loss = r.loss === undefined ? '' : `, last loss ${r.loss.toPrecision(5)}`;
      const from = r.resumedFrom ? ` (resumed from ${r.resumedFrom})` : '';
      io.out(
        `${r.model}: step ${r.step}${from} in ${r.seconds.toFixed(1)} s${loss}; checkpoint ${r.lastCheckpoint ?? 'none'}\n`,
      );
    });

  program
    .command('eval')
    .description('Evaluate a trained run on the MNIST test digits (mean ± standard error).')
    .argument('<run>', 'the run directory (the --out of dgm train)')
    .option(
      '--metrics <list>',
      'comma-separated: elbo, iwae (VAEs), nll, bpd (realnvp), fid (all); default per model',
      nameList('--metrics', ALL_METRICS),
    )
    .option('-n, --n <n>', 'test digits to evaluate on', int('-n/--n', 1), 1000)
    .option('-k, --k <n>', 'importance samples of the IWAE bound', int('-k/--k', 1), 100)
    .option(
      '--fid-samples <n>',
      'model samples (and test digits) for FID',
      int('--fid-samples', 2),
      1000,
    )
    .option('--seed <n>', 'seed of the Monte Carlo estimates and samples', int('--seed', 0), 0)
    .option('--json', 'print the results as JSON', false)
    .addHelpText(
      'after',
      `
Results are also appended to <run>/eval.jsonl. FID is computed on the features of the MNIST
classifier shipped in @dgm-js/eval ("FID-MNIST"), against the first --fid-samples test digits.

Examples:
  dgm eval runs/vae --metrics elbo,iwae,fid
  dgm eval runs/flow --metrics nll,bpd -n 10000
  dgm eval runs/vae --metrics iwae -k 1000 --json`,
    )
    .action(async (run: string, o: Record<string, unknown>) => {
      const { evaluate } = await import('./evaluate.js');
      const r = await evaluate({
        run,
        metrics: o.metrics as string[] | undefined,
        n: o.n as number,
        k: o.k as number,
        fidSamples: o.fidSamples as number,
        seed: o.seed as number,
      });
      if (o.json) {
        io.out(`${JSON.stringify({ run, step: r.step, metrics: r.rows })}\n`);
        return;
      }
      io.out(`${run} at step ${r.step}\n`);
      for (const m of r.rows) {
        const se = m.stderr === undefined ? '' : ` ± ${m.stderr.toFixed(4)}`;
        io.out(`${m.metric.padEnd(5)} ${m.value.toFixed(4)}${se} ${m.unit} (n=${m.n})\n`);
      }
    });

  program
    .command('sample')
    .description('Draw images from a trained run and save them as one PNG grid.')
    .argument('<run>', 'the run directory (the --out of dgm train)')
    .option('-n, --n <n>', 'number of images', int('-n/--n', 1), 64)
    .requiredOption('--png <file>', 'where to write the PNG grid')
    .option('--cols <n>', 'images per row (default: a square grid)', int('--cols', 1))
    .option('--seed <n>', 'seed of the samples', int('--seed', 0), 0)
    .addHelpText(
      'after',
      `
VAEs show the mean of p(x | z) at z ~ p(z); flows exact samples; GANs the generator's output.

Examples:
  dgm sample runs/vae -n 64 --png grid.png
  dgm sample runs/flow -n 100 --cols 10 --seed 3 --png flow.png`,
    )
    .action(async (run: string, o: Record<string, unknown>) => {
      const { sample } = await import('./sample.js');
      const r = await sample({
        run,
        n: o.n as number,
        png: o.png as string,
        seed: o.seed as number,
        cols: o.cols as number | undefined,
      });
      io.out(`wrote ${r.png}: ${r.n} samples at step ${r.step}\n`);
    });

  program
    .command('bench')
    .description(
      'Run the benchmark pipeline (apps/bench of the dgm.js repository) with these arguments.',
    )
    .argument('[args...]', "apps/bench's arguments, e.g. --suite vae --profile quick")
    .allowUnknownOption(true)
    .helpOption('-h, --help', 'show this help (apps/bench has its own: dgm bench -- --help)')
    .addHelpText(
      'after',
      `
Inside a clone of the dgm.js repository (after pnpm install), runs apps/bench's CLI (its
'bench' script) with the arguments as given; elsewhere it says so and exits with code 1.

Examples:
  dgm bench --suite vae --profile quick
  dgm bench -- --help`,
    )
    .action((args: string[]) => {
      state.code = bench(args, io.cwd);
    });

  return program;
}

/**
 * Runs one `dgm` command line (without the `node` and script arguments) and returns the exit
 * code: 0 ok, 1 a failure (one line `dgm <command>: error: ...` on stderr), 2 a usage error
 * (commander's one line, naming the flag).
 *
 * @example
 * ```ts
 * const code = await main(['sample', 'runs/vae', '-n', '16', '--png', 'grid.png']);
 * ```
 */
export async function main(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  const state = { code: 0 };
  const program = createProgram(io, state);
  const command = argv.find((a) => !a.startsWith('-')) ?? '';
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return state.code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; everything else commander stops on (an unknown or malformed
      // flag, a missing argument, no command at all: help on stderr) is a usage error
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      return 2;
    }
    const who = ['train', 'eval', 'sample', 'bench'].includes(command) ? `dgm ${command}` : 'dgm';
    io.err(`${who}: error: ${oneLine(e)}\n`);
    if (process.env.DGM_DEBUG === '1' && e instanceof Error && e.stack) io.err(`${e.stack}\n`);
    return e instanceof CliError ? e.exitCode : 1;
  }
}
