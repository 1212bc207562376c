// Vitest's global setup: the tests run the command as users do (its bundle), so the bundle is
// made from the packages' current dist first; a `tsc -b` alone would leave it behind them.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  execFileSync(process.execPath, [fileURLToPath(new URL('../../packages/cli/scripts/bundle.mjs', import.meta.url))], { stdio: 'inherit' });
}
