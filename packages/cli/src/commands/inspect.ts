import { openCheckpoint } from '@tessera/checkpoint';
import { layerCount } from '@tessera/engine';
import type { Command } from 'commander';
import { table } from '../format.js';
import { type Io, run } from '../run.js';

export function inspectCommand(program: Command, io: Io): void {
  program
    .command('inspect')
    .description('list the tensors, dtypes, parameter count and shards of a checkpoint')
    .argument('<checkpoint>', 'model folder or .safetensors file')
    .option('--json', 'print JSON')
    .option('--debug', 'print stack traces')
    .action(async (path: string, flags: { json?: boolean; debug?: boolean }) => {
      io.exitCode = await run(io, flags, async () => {
        const c = await openCheckpoint(path);
        const tensors = [...c.tensors.values()];
        const params = tensors.reduce((s, t) => s + t.numel, 0);
        const bytes = tensors.reduce((s, t) => s + t.byteLength, 0);
        const dtypes: Record<string, number> = {};
        for (const t of tensors) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
        const summary = {
          path: c.dir,
          files: c.files,
          tensors: tensors.length,
          parameters: params,
          bytes,
          dtypes,
          layers: layerCount(c.config, c.tensors.keys()),
          architecture: (c.config?.architectures as string[] | undefined)?.[0],
        };
        if (flags.json) {
          io.stdout.write(
            JSON.stringify({ ...summary, tensorList: tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, file: t.file })) }) + '\n',
          );
          return;
        }
        io.stdout.write(
          `${c.dir}: ${tensors.length} tensors, ${params.toLocaleString('en-US')} parameters (${(bytes / 1e9).toFixed(2)} GB) in ${c.files.length} file${c.files.length > 1 ? 's' : ''}\n`,
        );
        io.stdout.write(
          `dtypes: ${Object.entries(dtypes)
            .map(([d, n]) => `${d} ${n}`)
            .join(', ')}; layers: ${summary.layers}${summary.architecture ? `; ${summary.architecture}` : ''}\n\n`,
        );
        io.stdout.write(
          table([
            ['tensor', 'dtype', 'shape', ...(c.files.length > 1 ? ['file'] : [])],
            ...tensors.map((t) => [t.name, t.dtype, `[${t.shape.join(', ')}]`, ...(c.files.length > 1 ? [t.file.split('/').pop()!] : [])]),
          ]) + '\n',
        );
      });
    });
}
