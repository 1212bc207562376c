// Runs one task on the current thread: reads the slice of every input straight into the kernel
// memory, runs the kernel, writes the output straight from it at its final position.
import { stat } from 'node:fs/promises';
import { type RangeSource, openSource, sha256File, writeAt } from '@tessera/checkpoint';
import { KernelRuntime, itemSize } from '@tessera/tensor';
import type { MergeTask, StatsTask, Task, TaskResult } from './task.js';

const MAX_OPEN = 64;

/** Per-thread state: the kernel instance and open sources (most recently used last). */
export class TaskRunner {
  private readonly runtime = new KernelRuntime();
  private readonly sources = new Map<string, RangeSource>();

  async run(task: Task): Promise<TaskResult> {
    switch (task.kind) {
      case 'hash': return hashFile(task.uri);
      case 'stats': {
        const bytesRead = await this.load(task);
        return { kind: 'stats', stats: this.runtime.stats(task.spec, task.elemStart), bytesRead };
      }
      case 'merge': {
        const bytesRead = await this.load(task);
        const { bytes, ...r } = this.runtime.merge(task.spec, task.elemStart);
        const ok = r.nonFinite === 0 && r.inputNonFinite === 0;
        if (ok) await writeAt(task.out.uri, task.out.offset, bytes);
        return { kind: 'merge', ...r, bytesRead, bytesWritten: ok ? bytes.byteLength : 0 };
      }
    }
  }

  /** Memory held by the kernel instance. */
  get memoryBytes(): number {
    return this.runtime.memoryBytes;
  }

  async close(): Promise<void> {
    await Promise.all([...this.sources.values()].map((s) => s.close()));
    this.sources.clear();
  }

  private async load(task: StatsTask | MergeTask): Promise<number> {
    const views = this.runtime.prepare({
      n: task.n,
      inputDtypes: task.inputs.map((i) => i.dtype),
      rounding: task.rounding,
      ...(task.kind === 'merge' ? { outDtype: task.out.dtype } : {}),
    });
    await Promise.all(task.inputs.map((input, k) => this.source(input.uri).readInto(input.offset, views[k]!)));
    return task.inputs.reduce((s, i) => s + task.n * itemSize(i.dtype), 0);
  }

  private source(uri: string): RangeSource {
    let s = this.sources.get(uri);
    if (s) {
      this.sources.delete(uri);
    } else {
      s = openSource(uri);
      if (this.sources.size >= MAX_OPEN) {
        const [oldest, src] = this.sources.entries().next().value!;
        this.sources.delete(oldest);
        void src.close();
      }
    }
    this.sources.set(uri, s);
    return s;
  }
}

async function hashFile(uri: string): Promise<TaskResult> {
  const [sha256, s] = await Promise.all([sha256File(uri), stat(uri)]);
  return { kind: 'hash', sha256, size: s.size };
}
