// The long-running services' logs: JSON lines (one object per event, carrying job and task ids)
// for log collectors, and the same events human-readable when stdout is a terminal.
import { type Logger, pino } from 'pino';
import pretty from 'pino-pretty';

export function serviceLogger(service: string): Logger {
  const options = { base: { service } };
  if (!process.stdout.isTTY) return pino(options);
  // one line per event, led by its name
  return pino(
    { ...options, messageKey: 'event' },
    pretty({ colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' }),
  );
}
