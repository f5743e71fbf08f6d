import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitepress';

const here = dirname(fileURLToPath(import.meta.url));
const API = [
  'core-tensors',
  'datasets',
  'estimators',
  'autoregressive',
  'flows',
  'vae',
  'gan',
  'eval',
  'hybrids',
];

/** The sidebar TypeDoc wrote for one package (scripts/api.mjs), or a single link when absent. */
function apiSidebar(name: string) {
  const file = join(here, '..', 'api', name, 'typedoc-sidebar.json');
  const items = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
  return { text: `@dgm-js/${name}`, link: `/api/${name}/`, collapsed: true, items };
}

/**
 * @dgm-js/datasets picks its file IO by the `#node-io` import map: `node` gets node-io, everything
 * else the browser twin. Its `source` condition (listed first, for tests) points at node-io.ts for
 * every platform, so with `source` on, as here, the browser bundle would get the Node file (its
 * built-ins externalised by Vite, with a warning each). This resolves it to the browser twin, as the
 * published package does.
 */
function datasetsBrowserIo() {
  return {
    name: 'dgm-datasets-browser-io',
    enforce: 'pre' as const,
    resolveId(id: string, importer?: string) {
      if (id !== '#node-io' || !importer) return null;
      const dir = dirname(importer);
      return /[\\/]packages[\\/]datasets[\\/]src$/.test(dir)
        ? join(dir, 'node-io.browser.ts')
        : null;
    },
  };
}

export default defineConfig({
  title: 'dgm.js',
  description: 'Deep generative models for TypeScript on TensorFlow.js',
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: '/favicon.svg' }]],
  cleanUrls: false,
  lastUpdated: false,
  ignoreDeadLinks: [/^\.\.?\/.*README/],
  themeConfig: {
    nav: [
      { text: 'Guide', link: '/guide/getting-started' },
      { text: 'Models', link: '/models/' },
      { text: 'Demos', link: '/demos/' },
      { text: 'API', link: '/api/' },
    ],
    sidebar: {
      // each package's pages show that package's sidebar only (all nine inline in every page made
      // each API page 400 kB of HTML)
      ...Object.fromEntries(
        API.map((name) => [
          `/api/${name}/`,
          [
            { text: 'API reference', link: '/api/' },
            { ...apiSidebar(name), collapsed: false },
          ],
        ]),
      ),
      '/api/': [
        {
          text: 'API reference',
          link: '/api/',
          items: API.map((name) => ({ text: `@dgm-js/${name}`, link: `/api/${name}/` })),
        },
      ],
      '/': [
        {
          text: 'Guide',
          items: [
            { text: 'Getting started', link: '/guide/getting-started' },
            { text: 'The lecture, runnable', link: '/guide/lecture' },
          ],
        },
        {
          text: 'Model families',
          items: [
            { text: 'Overview', link: '/models/' },
            { text: 'Gradient estimators', link: '/models/estimators' },
            { text: 'Autoregressive models', link: '/models/autoregressive' },
            { text: 'Normalizing flows', link: '/models/flows' },
            { text: 'VAEs', link: '/models/vae' },
            { text: 'GANs', link: '/models/gan' },
            { text: 'Evaluation', link: '/models/eval' },
            { text: 'Hybrids', link: '/models/hybrids' },
          ],
        },
        {
          text: 'Live demos',
          items: [
            { text: 'All demos', link: '/demos/' },
            { text: 'Gumbel-Softmax temperature', link: '/demos/gumbel-softmax' },
            { text: 'REINFORCE vs reparameterization', link: '/demos/variance' },
            { text: 'A 2-D flow learning', link: '/demos/flow' },
            { text: "A VAE's latent space", link: '/demos/vae' },
          ],
        },
      ],
    },
    // the guides, model pages and demos are searchable; the API pages have their own sidebars
    search: {
      provider: 'local',
      options: {
        _render(src, env, md) {
          return env.relativePath.startsWith('api/') ? '' : md.render(src, env);
        },
      },
    },
  },
  vite: {
    // The workspace packages resolve to their TypeScript sources (the `source` export condition),
    // so the site needs no package build; the demos' workers are ES modules.
    resolve: { conditions: ['source'] },
    plugins: [datasetsBrowserIo()],
    worker: { format: 'es', plugins: () => [datasetsBrowserIo()] },
    build: { chunkSizeWarningLimit: 4000 },
  },
});
