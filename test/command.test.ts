// The command as users run it (the bundled CLI): the version, and help listing every command.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';

const version = (pkg: string) => (JSON.parse(readFileSync(new URL(`../packages/${pkg}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;

describe('tessera', () => {
  it('--version prints the packages version', async () => {
    const r = await tessera(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version('engine'));
    expect(version('cli')).toBe(version('engine'));
  });

  it('--help lists every command', async () => {
    const r = await tessera(['--help']);
    expect(r.code).toBe(0);
    const listed = [...r.stdout.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]);
    const commands = 'activations aim cancel coordinator eval help inspect merge methods plan planner probe status submit verify worker';
    expect(listed.sort()).toEqual(commands.split(' '));
  });
});
