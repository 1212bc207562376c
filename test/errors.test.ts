// One error model: every error's kind decides the exit code, the gRPC status and whether a
// worker retries; errors keep their class and kind across worker threads.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { CheckpointError, OutputError, SourceError } from '@tessera/checkpoint';
import { CancelledError, EmbeddedExecutor, MergeInputError, calibrationSequences, collectActivations, fromWire, toWire } from '@tessera/engine';
import { ModelError } from '@tessera/model/errors';
import { RecipeError } from '@tessera/recipe';
import { ERROR_KINDS, OperatorError, TesseraError, errorKind } from '@tessera/tensor';
import { describe, expect, it } from 'vitest';
import { tessera } from './support/cli.js';
import { tempDir } from './support/tmp.js';
import { ZOO } from './support/vocab-fixtures.js';

const work = tempDir('errors');
const ortBin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', 'linux', 'x64');
const hasCuda = existsSync(join(ortBin, 'libonnxruntime_providers_cuda.so'));

describe('error kinds', () => {
  it('each class has the kind its cause calls for, and the kinds map to exit codes, gRPC statuses and retries', () => {
    const cases: [Error, string][] = [
      [new RecipeError('r.yaml', 'models', 'x'), 'input'],
      [new CheckpointError('m.safetensors', 'x'), 'input'],
      [new MergeInputError('x', 't'), 'input'],
      [new OperatorError('t', 'x'), 'input'],
      [new ModelError('config.json', 'x'), 'input'],
      [new OutputError('/o', 'x', { reason: 'exists' }), 'exists'],
      [new OutputError('/o', 'x', { reason: 'permission' }), 'permission'],
      [new OutputError('/o', 'x'), 'io'],
      [new SourceError('http://h/m', 'HTTP 503'), 'io'],
      [new CancelledError(), 'cancelled'],
      [new Error('boom'), 'internal'],
    ];
    for (const [e, kind] of cases) expect(errorKind(e), e.name).toBe(kind);
    expect(ERROR_KINDS.input).toEqual({ exitCode: 2, grpc: 'INVALID_ARGUMENT', retryable: false });
    expect(ERROR_KINDS.permission.grpc).toBe('PERMISSION_DENIED');
    expect(ERROR_KINDS.cancelled.exitCode).toBe(130);
    expect(ERROR_KINDS.io.retryable && ERROR_KINDS.internal.retryable).toBe(true);
    for (const k of Object.values(ERROR_KINDS)) expect(typeof grpcStatus[k.grpc]).toBe('number');
  });

  it('errors keep class, kind, fields and message on the wire; an unknown class keeps its name and kind', () => {
    const model = fromWire(toWire(new ModelError('/m/config.json', 'rope_scaling is not supported')));
    expect(model).toBeInstanceOf(ModelError);
    expect(model.message).toBe('/m/config.json: rope_scaling is not supported');
    expect((model as ModelError).path).toBe('/m/config.json');
    const out = fromWire(toWire(new OutputError('/o', 'outside', { reason: 'permission' })));
    expect(errorKind(out)).toBe('permission');
    class Odd extends TesseraError {
      override readonly name = 'OddError';
      readonly kind = 'exists';
    }
    const odd = fromWire(toWire(new Odd('strange')));
    expect([odd.name, odd.message, errorKind(odd)]).toEqual(['OddError', 'strange', 'exists']);
    expect(errorKind(fromWire(toWire(new TypeError('x'))))).toBe('internal');
  });
});

describe('exit codes of the command', () => {
  it.skipIf(hasCuda)('a model error raised on a worker thread (no CUDA provider) exits 2', async () => {
    const r = await tessera(['activations', join(ZOO, 'base'), '--probes', join(ZOO, 'probes.jsonl'), '--out', join(work, 'a.arrow'), '--device', 'cuda']);
    expect(r.stderr).toMatch(/CUDA execution provider is not available/);
    expect(r.code).toBe(2);
  });

  it('an invalid --pool exits 2 before connecting', async () => {
    const r = await tessera(['worker', '--nats', 'nats://127.0.0.1:9', '--pool', 'tpu']);
    expect(r.stderr).toMatch(/--pool must be cpu or gpu, got tpu/);
    expect(r.code).toBe(2);
  });

  it("a cancelled activations job fails with CancelledError (exit 130), not the executor's abort", async () => {
    const seqs = await calibrationSequences(join(ZOO, 'base'), join(ZOO, 'probes.jsonl'));
    const exec = new EmbeddedExecutor(1);
    const ctrl = new AbortController();
    try {
      const run = collectActivations(join(ZOO, 'base'), seqs.slice(0, 4), {
        executor: exec,
        workDir: work,
        signal: ctrl.signal,
        onStage: (done) => {
          if (done === 1) ctrl.abort();
        },
      });
      await expect(run).rejects.toBeInstanceOf(CancelledError);
    } finally {
      await exec.close();
    }
  });
});
