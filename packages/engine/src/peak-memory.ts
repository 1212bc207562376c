// A process's peak resident memory, as the `done` event reports it.
import { readFileSync } from 'node:fs';

/**
 * Peak resident bytes of this process: VmHWM from /proc/self/status where there is one. The
 * rusage maximum (the fallback) also counts the pages of the parent a spawned process was forked
 * from, so a small merge started by a large process would report the parent's size.
 */
export function peakRssBytes(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // not Linux: the rusage maximum
  }
  return process.resourceUsage().maxRSS * 1024;
}
