// Runs a command body: Ctrl-C cancels it (cleanly), errors become one line and an exit code.
import { describe, exitCodeOf, EXIT_OK } from './exit.js';

export interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  exitCode: number;
}

// biome-ignore lint/suspicious/noConfusingVoidType: a command body returns an exit code or nothing
export async function run(io: Io, flags: { json?: boolean; debug?: boolean }, body: (signal: AbortSignal) => Promise<void | number>): Promise<number> {
  const ctrl = new AbortController();
  const onSignal = () => ctrl.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return (await body(ctrl.signal)) ?? EXIT_OK;
  } catch (e) {
    const code = exitCodeOf(e);
    if (flags.json)
      io.stdout.write(
        JSON.stringify({ type: 'error', error: e instanceof Error ? e.name : 'Error', message: e instanceof Error ? e.message : String(e), exitCode: code }) +
          '\n',
      );
    io.stderr.write(describe(e, flags.debug ?? false) + '\n');
    return code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
