import { onBeforeUnmount, ref } from 'vue';

/** The state every demo shows: which backend ran, running / done / error, and the time taken. */
export function useDemoStatus() {
  const backend = ref('');
  const state = ref<'idle' | 'running' | 'done' | 'error'>('idle');
  const error = ref('');
  const ms = ref(0);
  let worker: Worker | undefined;
  const attach = (w: Worker, onMessage: (d: Record<string, unknown>) => void) => {
    worker?.terminate();
    worker = w;
    w.onmessage = (ev: MessageEvent<Record<string, unknown>>) => {
      const d = ev.data;
      if (d.type === 'backend') backend.value = String(d.backend);
      else if (d.type === 'error') {
        state.value = 'error';
        error.value = String(d.message);
        console.error(`demo worker: ${error.value}`);
      } else if (d.type === 'done') {
        state.value = 'done';
        ms.value = Number(d.ms);
      } else onMessage(d);
    };
    w.onerror = (ev) => {
      state.value = 'error';
      error.value = ev.message || 'the worker failed to load';
      console.error(`demo worker: ${error.value}`);
    };
  };
  onBeforeUnmount(() => worker?.terminate());
  return { backend, state, error, ms, attach, worker: () => worker };
}

/** The site's base URL (the worker loads the tfjs .wasm files from `<base>wasm/`). */
export const BASE = import.meta.env.BASE_URL;
