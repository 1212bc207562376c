// The merge job options on the command line, from their one declaration (JOB_OPTIONS).
import { JOB_OPTIONS, type JobOptions, parseOptionText } from '@tessera/engine';
import { type Command, InvalidArgumentError } from 'commander';

/** Adds every job option's flag to a command. */
export function jobOptionFlags(cmd: Command): Command {
  for (const spec of JOB_OPTIONS) {
    if (spec.value === 'flag' || spec.value === 'negated-flag') {
      cmd.option(spec.flag, spec.doc);
      continue;
    }
    cmd.option(spec.flag, spec.doc, (text: string) => {
      try {
        return parseOptionText(spec, text);
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message.replace(/^[^:]*: /, ''));
      }
    });
  }
  return cmd;
}

/** The job options a command's parsed flags give. */
export function jobOptionsOf(flags: Record<string, unknown>): JobOptions {
  const o: JobOptions = { overwrite: false, strict: false, skipMismatched: false, fsync: true };
  for (const spec of JOB_OPTIONS) {
    const v = flags[spec.key];
    if (spec.value === 'flag') (o as unknown as Record<string, boolean>)[spec.key] = v === true;
    else if (spec.value === 'negated-flag') (o as unknown as Record<string, boolean>)[spec.key] = v !== false;
    else if (typeof v === 'number') (o as unknown as Record<string, number>)[spec.key] = v;
  }
  return o;
}
