/**
 * What stops `fit` from outside: the user's AbortSignal and, in Node, SIGINT/SIGTERM (finish
 * the step, save a checkpoint, then re-raise the signal so the process exits as it would have).
 */

/** A stop signal for one `fit`, and how to let go of it afterwards. */
export interface StopSignals {
  /** Aborted when the user's signal aborts or a process signal arrives. */
  readonly signal: AbortSignal;
  /** Removes the listeners; re-raises a caught process signal. Call once, last. */
  release(): void;
}

/** Wires the stop signals of one `fit`; `say` tells the user what a caught signal does. */
export function watchStopSignals(
  userSignal: AbortSignal | undefined,
  handleSignals: boolean,
  say: (message: string) => void,
): StopSignals {
  const internal = new AbortController();
  const onUserAbort = () => internal.abort();
  if (userSignal?.aborted) internal.abort();
  userSignal?.addEventListener('abort', onUserAbort);
  let caught: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    if (caught) {
      process.stderr.write(`\n${sig} again: exiting without a checkpoint.\n`);
      process.exit(130);
    }
    caught = sig;
    say(`${sig}: finishing this step and saving a checkpoint (send it again to exit at once).`);
    internal.abort();
  };
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return {
    signal: internal.signal,
    release: () => {
      userSignal?.removeEventListener('abort', onUserAbort);
      if (handleSignals) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      if (caught) process.kill(process.pid, caught);
    },
  };
}
