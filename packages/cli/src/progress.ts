// How a job's events reach the user: a progress bar on a TTY, one JSON object per event with
// --json, and otherwise warnings and a final summary.
import type { JobEvent } from '@tessera/engine';
import { duration, gb } from './format.js';

export type Reporter = (e: JobEvent) => void;

export function jsonReporter(out: NodeJS.WritableStream): Reporter {
  return (e) => out.write(JSON.stringify(e) + '\n');
}

export function humanReporter(err: NodeJS.WriteStream, out: NodeJS.WritableStream): Reporter {
  const tty = err.isTTY === true;
  let barShown = false;
  const clear = () => {
    if (barShown) err.write('\r\x1b[2K');
    barShown = false;
  };
  return (e) => {
    switch (e.type) {
      case 'warning':
        clear();
        err.write(`warning: ${e.message}\n`);
        break;
      case 'stage':
        clear();
        err.write(`stage ${e.index}/${e.count}: ${e.name}\n`);
        break;
      case 'plan':
        err.write(
          `plan: ${e.tensors} tensors in ${e.slices} slices, ${gb(e.inputBytes)} in, ${gb(e.outputBytes)} out (${e.files} file${e.files > 1 ? 's' : ''}), ${e.workers} worker${e.workers > 1 ? 's' : ''}\n`,
        );
        break;
      case 'progress': {
        if (!tty) break;
        const width = 24;
        const frac = e.bytesTotal > 0 ? e.bytesDone / e.bytesTotal : 1;
        const fill = Math.round(frac * width);
        err.write(
          `\r\x1b[2K[${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${e.tensorsDone}/${e.tensorsTotal} tensors  ${gb(e.bytesDone)}/${gb(e.bytesTotal)}  ${e.gbps.toFixed(2)} GB/s  ETA ${duration(e.etaS)}`,
        );
        barShown = true;
        break;
      }
      case 'aim':
        if (e.step === 'computing') {
          if (tty) {
            err.write(`\r\x1b[2Kaim: activation statistics, stage ${e.done}/${e.total}`);
            barShown = true;
          }
          break;
        }
        clear();
        err.write(e.step === 'cached' ? `aim: activation statistics from the cache (${e.stats})\n` : `aim: activation statistics ready (${e.stats})\n`);
        break;
      case 'finalise':
        if (tty) {
          clear();
          err.write(`\r\x1b[2Kfinalising: ${e.step}`);
          barShown = true;
        }
        break;
      case 'done':
        clear();
        out.write(`merged into ${e.out}: ${gb(e.inputBytes)} read in ${duration(e.seconds)} (${e.gbps.toFixed(2)} GB/s), ${e.files.length} files\n`);
        break;
    }
  };
}
