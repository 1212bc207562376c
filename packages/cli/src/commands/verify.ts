import { verifyManifest } from '@tessera/checkpoint';
import type { Command } from 'commander';
import { EXIT_FAILURE, EXIT_OK } from '../exit.js';
import { type Io, run } from '../run.js';

export function verifyCommand(program: Command, io: Io): void {
  program
    .command('verify')
    .description('re-hash a merged model against its tessera-manifest.json')
    .argument('<dir>', 'merged model folder')
    .option('--json', 'print JSON')
    .option('--debug', 'print stack traces')
    .action(async (dir: string, flags: { json?: boolean; debug?: boolean }) => {
      io.exitCode = await run(io, flags, async () => {
        const { manifest, problems } = await verifyManifest(dir);
        if (flags.json) io.stdout.write(JSON.stringify({ dir, files: manifest.files.length, ok: problems.length === 0, problems }) + '\n');
        else if (problems.length === 0) io.stdout.write(`${dir}: ${manifest.files.length} files match the manifest\n`);
        else for (const p of problems) io.stderr.write(`${dir}/${p.path}: ${p.problem}\n`);
        return problems.length === 0 ? EXIT_OK : EXIT_FAILURE;
      });
    });
}
