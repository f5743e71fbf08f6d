import { autoregressiveSuite } from './autoregressive.js';
import { estimatorsSuite } from './estimators.js';
import { evalSuite } from './eval.js';
import { flowsSuite } from './flows.js';
import { ganSuite } from './gan.js';
import { hybridsSuite } from './hybrids.js';
import { hybridsAdversarialSuite } from './hybrids-adversarial.js';
import { hybridsLatentSuite } from './hybrids-latent.js';
import { hybridsMultimodalSuite } from './hybrids-multimodal.js';
import { kernelsSuite } from './kernels.js';
import { reliabilitySuite } from './reliability.js';
import type { Suite } from './types.js';
import { vaeSuite } from './vae.js';

/** Every suite, in the order `pnpm bench` runs them. */
export const SUITES: readonly Suite[] = [
  kernelsSuite,
  estimatorsSuite,
  autoregressiveSuite,
  flowsSuite,
  vaeSuite,
  hybridsSuite,
  hybridsAdversarialSuite,
  hybridsLatentSuite,
  hybridsMultimodalSuite,
  ganSuite,
  evalSuite,
  reliabilitySuite,
];
