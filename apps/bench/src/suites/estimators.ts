/**
 * Suite `estimators`: the gradient estimators of @dgm-js/estimators on the problems with known
 * answers.
 * 1. The lecture's example d/dtheta E_{x~N(theta,1)}[x^2] at theta = 2: mean and variance of the
 *    N-sample REINFORCE and reparameterization estimates over repeats, against 87/N and 4/N.
 * 2. Gumbel-Softmax temperature sweep: samples approach one-hot as tau -> 0 and the uniform
 *    point as tau -> infinity; the gradient's bias falls and its variance grows as tau -> 0.
 * 3. The RELAX toy (Grathwohl et al. 2018): minimise E_{b~Bern(sigmoid(theta))}[(b - 0.499)^2]
 *    with REINFORCE, REINFORCE + baseline, Concrete, REBAR and RELAX: loss and log-variance curves.
 * 4. Unbiasedness table against exact enumeration on small Bernoulli / categorical problems.
 * Plus estimator throughput for the lecture example beside a PyTorch peer.
 */
import { adam, initBackend, plotSvg, Rng, tf } from '@dgm-js/core-tensors';
import {
  arm,
  bernoulliLatent,
  bernoulliProblem,
  categoricalProblem,
  disarm,
  type EstimationProblem,
  exact,
  type GradientEstimator,
  gradientStats,
  gumbelMax,
  gumbelSoftmax,
  lectureProblem,
  rebar,
  reinforce,
  relax,
  relaxToyProblem,
  reparam,
  rloo,
  straightThrough,
  straightThroughGumbelSoftmax,
} from '@dgm-js/estimators';
import { runPeer, torchVersion } from '../peer.js';
import { type Figure, type SuiteResult, writeFigure } from '../report.js';
import { peerLabel, RowTable } from '../rows.js';
import { progress } from '../timing.js';
import type { Profile, Suite } from './types.js';

type Tensor = tf.Tensor;

interface PeerEstimators {
  torch: string;
  threads: number;
  /** estimator -> N -> {mean, var} over the repeats */
  lecture: Record<string, Record<string, { mean: number; var: number }>>;
  /** estimator -> mode -> estimates per second */
  throughput: Record<string, Record<string, number>>;
}

const LECTURE_NS = [10, 100, 1000, 10000, 100000];
const ANALYTIC_VAR: Record<string, number> = { reinforce: 87, reparam: 4 };

function fmt(v: number, d = 4): string {
  return Number.isFinite(v) ? String(+v.toPrecision(d)) : String(v);
}

/** The small problems of the unbiasedness table (the same as the package tests). */
function bernoulli3(): EstimationProblem {
  return bernoulliProblem('bernoulli-3', [0.4, -0.8, 1.2], (z: Tensor) =>
    tf.tidy(() => {
      const lin = tf.sub(tf.sum(tf.mul(z, tf.tensor1d([1, -0.7, 0.5])), -1), 0.6);
      const z0 = tf.squeeze(tf.slice(z, [0, 0, 0], [-1, -1, 1]), [2]);
      const z2 = tf.squeeze(tf.slice(z, [0, 0, 2], [-1, -1, 1]), [2]);
      return tf.add(tf.square(lin), tf.mul(0.3, tf.mul(z0, z2)));
    }),
  );
}

function categorical2x3(): EstimationProblem {
  const v = [
    [1, 2, -1],
    [0.5, -1.5, 2],
  ];
  return categoricalProblem(
    'categorical-2x3',
    [
      [0.2, -0.5, 0.9],
      [1.0, 0.0, -0.3],
    ],
    (z: Tensor) => tf.tidy(() => tf.square(tf.sub(tf.sum(tf.mul(z, tf.tensor2d(v)), [-2, -1]), 1))),
  );
}

/** Estimates per second of one vectorised call computing `repeats` estimates of N samples. */
function throughput(est: GradientEstimator, n: number, repeats: number, iters: number): number {
  const p = lectureProblem(2);
  const rng = new Rng(5);
  const call = () =>
    tf.tidy(() => {
      const t = tf.fill([repeats, 1], 2);
      const g = tf.grad((x: Tensor) =>
        tf.sum(
          est.estimate(p.latent(x), (z) => p.objective(z, x), {
            samples: n,
            rng,
            update: false,
            diagnostics: false,
          }).surrogate,
        ),
      )(t);
      g.dataSync();
    });
  for (let i = 0; i < 3; i++) call();
  const times: number[] = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    call();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const med = times[Math.floor(times.length / 2)]!;
  return repeats / (med / 1000);
}

export const estimatorsSuite: Suite = {
  name: 'estimators',
  description:
    'gradient estimators: lecture variance vs N, Gumbel-Softmax temperature, RELAX toy, unbiasedness, throughput beside PyTorch',
  async run(profile: Profile, { resultsDir }): Promise<SuiteResult> {
    const info = await initBackend();
    const quick = profile === 'quick';
    const lectureRepeats = quick ? 100 : 1000;
    progress(
      torchVersion()
        ? `PyTorch peer ${torchVersion()} running`
        : 'PyTorch peer absent (peer: null)',
    );
    const peer = await runPeer<PeerEstimators>('torch_estimators.py', [
      '--profile',
      profile,
      '--repeats',
      String(lectureRepeats),
    ]).catch((e: Error) => {
      progress(`peer failed: ${e.message}`);
      return null;
    });
    const results = new RowTable({ peer: peerLabel(peer) });
    const notes: string[] = [];
    const figures: Figure[] = [];

    // 1. Lecture example --------------------------------------------------------------------
    const lecture: Record<string, [number, number][]> = { reinforce: [], reparam: [] };
    for (const [key, make] of [
      ['reinforce', reinforce],
      ['reparam', reparam],
    ] as const) {
      for (const n of LECTURE_NS) {
        const s = gradientStats(make(), lectureProblem(2), {
          samples: n,
          repeats: lectureRepeats,
          rng: new Rng(1000 + n),
        });
        const analytic = ANALYTIC_VAR[key]! / n;
        const pv = peer?.lecture[key]?.[String(n)];
        results.add(`lecture/${key}/mean/N=${n}`, s.mean[0]!, 'd/dtheta', {
          note: `true gradient 4; standard error ${fmt(s.stderr[0]!)} over ${lectureRepeats} repeats`,
          peer: pv?.mean,
        });
        results.add(`lecture/${key}/var/N=${n}`, s.variance[0]!, 'variance', {
          note: `analytic ${ANALYTIC_VAR[key]}/N = ${fmt(analytic)}; measured/analytic ${fmt(s.variance[0]! / analytic, 3)} (sd of that ratio over ${lectureRepeats} repeats ~ ${fmt(Math.sqrt(2 / (lectureRepeats - 1)), 2)})`,
          peer: pv?.var,
        });
        results.add(
          `lecture/${key}/var-ratio/N=${n}`,
          s.variance[0]! / analytic,
          'measured/analytic',
        );
        lecture[key]!.push([n, s.variance[0]!]);
        progress(
          `lecture ${key} N=${n}: mean ${fmt(s.mean[0]!)} var ${fmt(s.variance[0]!)} (analytic ${fmt(analytic)})`,
        );
      }
    }
    {
      // the best constant baseline, b = 7: (4 - b)^2 + 6 (4 - b) + 47 = 38
      const n = 1000;
      const s = gradientStats(
        reinforce({ baseline: { type: 'constant', value: 7 } }),
        lectureProblem(2),
        {
          samples: n,
          repeats: lectureRepeats,
          rng: new Rng(77),
        },
      );
      results.add(`lecture/reinforce-b7/mean/N=${n}`, s.mean[0]!, 'd/dtheta', {
        note: 'true gradient 4',
      });
      results.add(`lecture/reinforce-b7/var/N=${n}`, s.variance[0]!, 'variance', {
        note: `constant baseline b = 7: analytic ((4-b)^2 + 6(4-b) + 47)/N = 38/N = ${fmt(38 / n)}; measured/analytic ${fmt((s.variance[0]! * n) / 38, 3)}`,
      });
    }
    figures.push(
      await writeFigure(
        resultsDir,
        'estimators-lecture-variance.svg',
        'Lecture example: variance of the N-sample gradient estimate',
        plotSvg(
          [
            {
              name: 'REINFORCE (measured)',
              points: lecture.reinforce!,
              line: false,
              color: '#d62728',
            },
            {
              name: 'REINFORCE analytic 87/N',
              points: LECTURE_NS.map((n) => [n, 87 / n]),
              dashed: true,
              markers: false,
              color: '#d62728',
            },
            { name: 'reparam (measured)', points: lecture.reparam!, line: false, color: '#1f77b4' },
            {
              name: 'reparam analytic 4/N',
              points: LECTURE_NS.map((n) => [n, 4 / n]),
              dashed: true,
              markers: false,
              color: '#1f77b4',
            },
          ],
          {
            title: `d/dθ E[x²], x~N(θ,1), θ=2: variance over ${lectureRepeats} repeats`,
            xLabel: 'N (samples per estimate)',
            yLabel: 'variance of the estimate',
            logX: true,
            logY: true,
          },
        ),
      ),
    );

    // throughput beside the peer
    for (const [key, make] of [
      ['reinforce', reinforce],
      ['reparam', reparam],
    ] as const) {
      const n = 1000;
      const batched = throughput(make(), n, 100, quick ? 10 : 40);
      const single = throughput(make(), n, 1, quick ? 30 : 200);
      results.add(`throughput/lecture/${key}/N=${n}/batched-100`, batched, 'estimates/s', {
        note: '100 estimates of N samples per vectorised call (forward + backward + read-back)',
        peer: peer?.throughput[key]?.batched,
      });
      results.add(`throughput/lecture/${key}/N=${n}/single`, single, 'estimates/s', {
        note: 'one estimate per call: dominated by per-op overhead',
        peer: peer?.throughput[key]?.single,
      });
      progress(`throughput ${key}: batched ${fmt(batched)} /s, single ${fmt(single)} /s`);
    }

    // 2. Gumbel-Softmax temperature sweep ------------------------------------------------------
    {
      const probs = [0.05, 0.1, 0.15, 0.3, 0.4];
      const c = probs.length;
      const v = [1, 2, 3, 4, 5];
      const taus = quick
        ? [0.1, 0.2, 0.5, 1, 2, 5, 10]
        : [0.1, 0.15, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 7, 10];
      const problem = categoricalProblem('gs-5', [probs.map(Math.log)], (z: Tensor) =>
        tf.tidy(() => tf.square(tf.sub(tf.sum(tf.mul(z, tf.tensor1d(v)), [-2, -1]), 3.2))),
      );
      const repeats = quick ? 2000 : 20000;
      const sampleN = quick ? 20000 : 100000;
      const maxComp: [number, number][] = [];
      const distUniform: [number, number][] = [];
      const bias: [number, number][] = [];
      const variance: [number, number][] = [];
      const stBias: [number, number][] = [];
      const stVariance: [number, number][] = [];
      const sf = gradientStats(reinforce(), problem, { samples: 1, repeats, rng: new Rng(3) });
      for (const tau of taus) {
        // sample statistics of the relaxed sample y = softmax((log p + G) / tau)
        const [mc, du, meanErr] = tf.tidy(() => {
          const logits = tf.log(tf.tensor1d(probs));
          const u = tf.clipByValue(
            tf.randomUniform([sampleN, c], 0, 1, 'float32', 11),
            1e-6,
            1 - 1e-6,
          );
          const y = tf.softmax(tf.div(tf.add(logits, tf.neg(tf.log(tf.neg(tf.log(u))))), tau));
          const m = tf.mean(tf.max(y, -1)).dataSync()[0]!;
          const d = tf.mean(tf.sum(tf.abs(tf.sub(y, 1 / c)), -1)).dataSync()[0]!;
          const e = tf.sum(tf.abs(tf.sub(tf.mean(y, 0), tf.tensor1d(probs)))).dataSync()[0]!;
          return [m, d, e];
        });
        const s = gradientStats(gumbelSoftmax({ temperature: tau }), problem, {
          samples: 1,
          repeats,
          rng: new Rng(4),
        });
        const st = gradientStats(straightThroughGumbelSoftmax({ temperature: tau }), problem, {
          samples: 1,
          repeats,
          rng: new Rng(4),
        });
        maxComp.push([tau, mc]);
        distUniform.push([tau, du]);
        bias.push([tau, s.biasNorm!]);
        variance.push([tau, s.totalVariance]);
        stBias.push([tau, st.biasNorm!]);
        stVariance.push([tau, st.totalVariance]);
        results.add(`gumbel-softmax/tau=${tau}/max-component`, mc, 'E[max_k y_k]', {
          note: `1 = one-hot, 1/${c} = ${fmt(1 / c)} uniform point; L1 distance of E[y] from p: ${fmt(meanErr, 3)}`,
        });
        results.add(`gumbel-softmax/tau=${tau}/l1-to-uniform`, du, 'E|y - 1/C|_1');
        results.add(`gumbel-softmax/tau=${tau}/bias`, s.biasNorm!, '|E[g] - grad|', {
          note: `max |z| ${fmt(s.maxAbsZ!, 3)} over ${repeats} repeats`,
        });
        results.add(`gumbel-softmax/tau=${tau}/variance`, s.totalVariance, 'tr Cov(g)');
        results.add(`st-gumbel-softmax/tau=${tau}/bias`, st.biasNorm!, '|E[g] - grad|');
        results.add(`st-gumbel-softmax/tau=${tau}/variance`, st.totalVariance, 'tr Cov(g)');
        progress(
          `gumbel-softmax tau=${tau}: E[max y] ${fmt(mc)} bias ${fmt(s.biasNorm!)} var ${fmt(s.totalVariance)}`,
        );
      }
      results.add('gumbel-softmax/reinforce-reference/variance', sf.totalVariance, 'tr Cov(g)', {
        note: 'REINFORCE, 1 sample, same problem (unbiased)',
      });
      notes.push(
        `gumbel-softmax sweep: one categorical over ${c} classes, p = [${probs.join(', ')}], f(z) = (z . [1..5] - 3.2)^2, 1 sample per estimate, ${repeats} repeats; sample statistics over ${sampleN} relaxed samples`,
      );
      figures.push(
        await writeFigure(
          resultsDir,
          'estimators-gs-samples.svg',
          'Gumbel-Softmax samples vs temperature',
          plotSvg(
            [
              { name: 'E[max_k y_k] (1 = one-hot)', points: maxComp },
              { name: 'E|y - 1/C|_1 (0 = uniform point)', points: distUniform },
              {
                name: `1/C = ${fmt(1 / c)}`,
                points: [
                  [taus[0]!, 1 / c],
                  [taus[taus.length - 1]!, 1 / c],
                ],
                dashed: true,
                markers: false,
              },
            ],
            {
              title: 'Gumbel-Softmax samples: one-hot as τ→0, uniform as τ→∞',
              legend: 'bottom-left',
              xLabel: 'temperature τ',
              yLabel: 'sample statistic',
              logX: true,
            },
          ),
        ),
        await writeFigure(
          resultsDir,
          'estimators-gs-bias-variance.svg',
          'Gumbel-Softmax gradient bias and variance vs temperature',
          plotSvg(
            [
              { name: 'GS bias |E[g] - ∇|', points: bias },
              { name: 'GS variance tr Cov(g)', points: variance },
              { name: 'ST-GS bias', points: stBias, dashed: true },
              { name: 'ST-GS variance', points: stVariance, dashed: true },
              {
                name: 'REINFORCE variance (unbiased)',
                points: [
                  [taus[0]!, sf.totalVariance],
                  [taus[taus.length - 1]!, sf.totalVariance],
                ],
                dashed: true,
                markers: false,
              },
            ],
            {
              title: 'Gumbel-Softmax gradient: bias vs variance',
              legend: 'bottom-left',
              xLabel: 'temperature τ',
              yLabel: 'bias norm / total variance',
              logX: true,
              logY: true,
            },
          ),
        ),
      );
    }

    // 3. The RELAX toy -------------------------------------------------------------------------
    {
      const target = 0.499;
      const steps = quick ? 3000 : 10000;
      const every = quick ? 100 : 200;
      const varRepeats = quick ? 200 : 1000;
      const lr = 0.01;
      const lossOf = (th: number) => {
        const s = 1 / (1 + Math.exp(-th));
        return s * (1 - target) ** 2 + (1 - s) * target ** 2;
      };
      const f = (z: Tensor) => tf.sum(tf.square(tf.sub(z, target)), -1);
      const runs: [string, () => GradientEstimator][] = [
        ['reinforce', () => reinforce()],
        ['reinforce-baseline', () => reinforce({ baseline: 'movingAverage' })],
        ['concrete', () => gumbelSoftmax({ temperature: 0.5 })],
        ['rebar', () => rebar()],
        // as the authors' toy (duvenaud/relax, pytorch_toy.py): c = r_psi(sigma_lambda(z)) alone,
        // 10 tanh units, log lambda starting at 0.5, Adam 0.01 for the control variate
        [
          'relax',
          () =>
            relax({
              hidden: 10,
              concreteTerm: false,
              temperature: Math.exp(0.5),
              learningRate: 0.01,
            }),
        ],
      ];
      const lossCurves: { name: string; points: [number, number][] }[] = [];
      const varCurves: { name: string; points: [number, number][] }[] = [];
      for (const [name, make] of runs) {
        const est = make();
        const theta = tf.variable(tf.zeros([1]), true, `relax-toy-theta-${name}`);
        const opt = adam(lr);
        const rng = new Rng(2024);
        const loss: [number, number][] = [];
        const logVar: [number, number][] = [];
        let varSum = 0;
        let varCount = 0;
        const t0 = performance.now();
        let trainMs = 0;
        for (let t = 0; t <= steps; t++) {
          if (t % every === 0) {
            const th = theta.dataSync()[0]!;
            loss.push([t, lossOf(th)]);
            const s = gradientStats(est, relaxToyProblem(th, target), {
              samples: 1,
              repeats: varRepeats,
              rng: new Rng(t + 1),
            });
            const lv = Math.log10(Math.max(s.variance[0]!, 1e-30));
            logVar.push([t, s.variance[0]!]);
            varSum += lv;
            varCount++;
          }
          if (t === steps) break;
          const ts = performance.now();
          const l = opt.minimize(
            () =>
              est.estimate(bernoulliLatent(theta), f, { samples: 1, rng, diagnostics: false })
                .surrogate as tf.Scalar,
            true,
            [theta],
          );
          l?.dispose();
          trainMs += performance.now() - ts;
        }
        const th = theta.dataSync()[0]!;
        results.add(`relax-toy/${name}/final-loss`, lossOf(th), 'E[(b - 0.499)^2]', {
          note: `optimum ${fmt(target ** 2, 6)} (theta -> -inf); start ${fmt(lossOf(0), 6)}`,
        });
        results.add(`relax-toy/${name}/final-theta`, th, 'theta');
        results.add(`relax-toy/${name}/mean-log10-variance`, varSum / varCount, 'log10 Var(g)', {
          note: `gradient variance at the current theta, ${varRepeats} repeats every ${every} steps`,
        });
        results.add(`relax-toy/${name}/steps-per-s`, steps / (trainMs / 1000), 'steps/s', {
          note: '1 sample per step, Adam on theta (and the estimator state update)',
        });
        lossCurves.push({ name, points: loss });
        varCurves.push({ name, points: logVar });
        progress(
          `relax toy ${name}: theta ${fmt(th)} loss ${fmt(lossOf(th), 7)} in ${fmt((performance.now() - t0) / 1000, 3)} s`,
        );
        opt.dispose();
        theta.dispose();
        est.dispose();
      }
      notes.push(
        `relax toy: minimise E_{b~Bern(sigmoid(theta))}[(b - ${target})^2] from theta = 0 with Adam (lr ${lr}), 1 sample per step, ${steps} steps; the exact gradient is 0.002 sigmoid'(theta); loss is the exact expectation at the current theta; concrete = Gumbel-Softmax at temperature 0.5 (biased); rebar (eta f(sigma_lambda(z))) and relax (a 10-unit tanh network on sigma_lambda(z), as the authors' toy code) tune their control variates online to minimise the variance. On this toy a constant baseline near E[f] = 0.25 is almost the optimal control variate (f(b) is 0.249001 or 0.251001), which is why the moving-average baseline does so well; REBAR's variance-optimal eta is near 0 here, where it reduces to REINFORCE`,
      );
      figures.push(
        await writeFigure(
          resultsDir,
          'estimators-relax-toy-loss.svg',
          'RELAX toy: loss during training',
          plotSvg(
            [
              ...lossCurves.map((c) => ({ ...c, markers: false })),
              {
                name: `optimum ${target ** 2}`,
                points: [
                  [0, target ** 2],
                  [steps, target ** 2],
                ],
                dashed: true,
                markers: false,
                color: '#000',
              },
            ],
            {
              title: `RELAX toy: E[(b - ${target})²] during training`,
              xLabel: 'step',
              yLabel: 'loss (exact expectation)',
            },
          ),
        ),
        await writeFigure(
          resultsDir,
          'estimators-relax-toy-variance.svg',
          'RELAX toy: gradient variance during training',
          plotSvg(
            varCurves.map((c) => ({ ...c, markers: false })),
            {
              title: 'RELAX toy: variance of the gradient estimate',
              legend: 'bottom-right',
              xLabel: 'step',
              yLabel: 'Var(g) at the current θ',
              logY: true,
            },
          ),
        ),
      );
    }

    // 4. Unbiasedness table --------------------------------------------------------------------
    {
      const repeats = quick ? 4000 : 40000;
      const samples = 4;
      const table: [string, () => GradientEstimator, boolean][] = [
        ['reinforce', () => reinforce(), true],
        [
          'reinforce-baseline',
          () => reinforce({ baseline: { type: 'constant', value: 0.5 } }),
          true,
        ],
        ['gumbel-max', () => gumbelMax(), true],
        ['rloo', () => rloo(), true],
        ['rebar', () => rebar(), true],
        ['relax', () => relax({ hidden: 8 }), true],
        ['arm', () => arm(), true],
        ['disarm', () => disarm(), true],
        ['exact', () => exact(), true],
        ['gumbel-softmax-t1', () => gumbelSoftmax({ temperature: 1 }), false],
        ['gumbel-softmax-t0.3', () => gumbelSoftmax({ temperature: 0.3 }), false],
        ['st-gumbel-softmax-t1', () => straightThroughGumbelSoftmax({ temperature: 1 }), false],
        ['straight-through', () => straightThrough(), false],
      ];
      for (const problem of [bernoulli3(), categorical2x3()]) {
        for (const [name, make, unbiased] of table) {
          if (problem.name.startsWith('categorical') && (name === 'arm' || name === 'disarm'))
            continue;
          const est = make();
          const s = gradientStats(est, problem, {
            samples,
            repeats: name === 'exact' ? 4 : repeats,
            rng: new Rng(31),
          });
          const z = name === 'exact' ? 0 : s.maxAbsZ!;
          results.add(`unbiased/${problem.name}/${name}/max-z`, z, 'max |bias|/stderr', {
            note: unbiased
              ? 'unbiased: expect below ~3.5 (per-parameter z-scores are ~N(0,1))'
              : 'biased: the z-score grows with the repeats',
          });
          results.add(`unbiased/${problem.name}/${name}/bias-norm`, s.biasNorm!, '|E[g] - grad|', {
            note: `|grad| = ${fmt(Math.hypot(...s.exact!))}`,
          });
          results.add(`unbiased/${problem.name}/${name}/variance`, s.totalVariance, 'tr Cov(g)', {
            note: `${samples} samples per estimate (arm/disarm: ${samples} antithetic pairs)`,
          });
          progress(
            `unbiased ${problem.name} ${name}: max z ${fmt(z, 3)} bias ${fmt(s.biasNorm!, 3)} var ${fmt(s.totalVariance, 3)}`,
          );
          est.dispose();
        }
      }
      notes.push(
        `unbiasedness: ${repeats} repeats of ${samples}-sample estimates at the problem's logits against exact enumeration; rebar / relax with their initial control variates (eta = 1, lambda = 0.5, untrained network)`,
      );
    }

    notes.push(
      `backend: ${info.summary}`,
      peer
        ? `peer: PyTorch ${peer.torch} CPU, ${peer.threads} thread, same lecture table (its own random numbers) and the same vectorised estimator, run alone before ours`
        : 'peer: PyTorch not found at /usr/bin/python3 (run apps/bench/scripts/install-peer.sh); peer columns are empty',
    );
    return {
      suite: 'estimators',
      profile,
      backend: info.name,
      date: new Date().toISOString(),
      rows: results.rows,
      notes,
      figures,
    };
  },
};
