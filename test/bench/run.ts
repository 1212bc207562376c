// npm run bench: Tessera's merge throughput and memory against a PyTorch peer and the
// machine's memcpy bandwidth, measured in one run; distributed figures; the model runtime's
// tokens/s against PyTorch and the AIM accuracy table; then the long fuzz of the reader.
//   BENCH_DIR   where the synthetic checkpoints live (default: $TMPDIR/tessera-bench; reused)
//   BENCH_MODEL tinyllama (default, 1.1B: four 2.2 GB checkpoints) or small
//   BENCH_PEER_GB  input GB the PyTorch peer processes per operator (default 1.5)
//   BENCH_FUZZ_S   seconds of fuzzing (default 60)
//   BENCH_RUNS     runs of each end-to-end merge, Tessera and the peer alternating (default and at least 3)
//   BENCH_VIRTUAL  size of the virtual model merged on 1 and 2 workers (default 1b; 100m is quick)
//   BENCH_PLAN_LAYERS  decoder layers of the virtual 405B experts the planner's signals read (default 1)
//   BENCH_MOE_LAYERS   first decoder layers of the virtual DeepSeek-V3 671B merged end to end (default 1)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type LlamaShape, TINYLLAMA_1_1B, writeSyntheticModel } from '../support/synthetic.js';
import { dispatchRate, plan405b, virtualMerge } from './distributed.js';
import { fuzzLong } from './fuzz-long.js';
import { kernelFigures } from './kernels.js';
import { memcpyGBps } from './machine.js';
import { aimTable } from './aim-table.js';
import { forwardFigures } from './forward.js';
import { plan405b as planner405b } from './planner-scale.js';
import { layersRun, plan671b } from './moe-scale.js';
import { endToEnd } from './end-to-end.js';
import { memoryScale } from './memory-scale.js';
import { ensurePeer, modelBytes, runTessera, torchAvailable, warmPageCache } from './merges.js';

const SMALL: LlamaShape = { layers: 4, hidden: 1024, intermediate: 2816, vocab: 8192, heads: 16, kvHeads: 4 };
const shape = process.env.BENCH_MODEL === 'small' ? SMALL : TINYLLAMA_1_1B;
const dir = process.env.BENCH_DIR ?? join(tmpdir(), `tessera-bench-${process.env.BENCH_MODEL ?? 'tinyllama'}`);
const peerBytes = Number(process.env.BENCH_PEER_GB ?? 1.5) * 1e9;
const fuzzSeconds = Number(process.env.BENCH_FUZZ_S ?? 60);
const runs = Math.max(3, Number(process.env.BENCH_RUNS ?? 3));
const WORKERS = 2;

const f2 = (x: number) => x.toFixed(2);
const line = (s = '') => console.log(s);

async function main() {
  line(`# Tessera benchmark (${new Date().toISOString().slice(0, 10)}, ${WORKERS} worker threads)`);
  line(ensurePeer());
  const memcpy = memcpyGBps();
  line(`memcpy, 1 thread: ${f2(memcpy)} GB/s copied`);

  line('\n## Kernels alone (1 thread, base + 3 experts, 16M bf16 elements each, tie-heavy like bf16 fine-tunes, masks of density 0.2; input GB/s)');
  const kernels = kernelFigures();
  for (const k of kernels)
    line(
      `${k.name.padEnd(42)} ${f2(k.gbps).padStart(6)} GB/s  ${((100 * k.gbps) / memcpy).toFixed(0).padStart(3)}% of memcpy  ${(kernels[0]!.gbps / k.gbps).toFixed(2)}x the task_arithmetic kernel's time`,
    );

  line(`\n## End to end: ${process.env.BENCH_MODEL === 'small' ? 'small' : 'TinyLlama-1.1B-shaped'} base + 3 experts (BF16) in ${dir}`);
  mkdirSync(dir, { recursive: true });
  for (const [i, m] of ['base', 'e1', 'e2', 'e3'].entries()) {
    if (!existsSync(join(dir, m, 'config.json'))) await writeSyntheticModel(join(dir, m), shape, i);
  }
  const total = modelBytes(dir);
  line(`inputs: 4 checkpoints, ${f2(total / 1e9)} GB in all`);
  const torch = torchAvailable();
  if (!torch) line('PyTorch peer: /usr/bin/python3 with torch not found (Debian python3-torch); peer figures skipped');
  for (const l of endToEnd(dir, { workers: WORKERS, runs, kernels, ...(torch ? { peerBytes } : {}) })) line(l);
  line(
    `(tessera: the whole \`tessera merge --no-fsync\` process, start-up, planning, hashing and publishing included; torch: mergekit's arithmetic in bf16 on ${torch ? f2(peerBytes / 1e9) : '--'} GB of the same inputs (della: a fifth of that), ${WORKERS} threads)`,
  );
  const scale = await memoryScale(['1b', '8b'], WORKERS);
  line(
    `peak RSS as the model grows (task_arithmetic of 3 experts, virtual Llama generated on read, null:// output): ${scale
      .map((r) => `llama-${r.size} ${f2(r.inputGB)} GB in ${f2(r.seconds)} s, ${r.peakRssMiB.toFixed(0)} MiB`)
      .join(
        '; ',
      )}; the larger ${(scale[1]!.inputGB / scale[0]!.inputGB).toFixed(1)}x the input at ${(scale[1]!.peakRssMiB / scale[0]!.peakRssMiB).toFixed(2)}x the memory`,
  );
  warmPageCache(dir);
  const synced = runTessera(dir, 'task_arithmetic', WORKERS, true);
  line(`task_arithmetic with fsync of the output before publishing: ${f2(synced.gbps)} GB/s (${f2(synced.seconds)} s)`);

  line('\n## Distributed (real nats-server, coordinator and worker processes, all on this machine)');
  const p = plan405b();
  line(
    `planning a 3-expert TIES merge of a virtual 405B model: ${f2(p.seconds)} s, peak RSS ${p.rssMiB.toFixed(0)} MiB, ${p.tensors} tensors, ${p.mergeTasks} merge tasks + ${p.statsTasks} stats tasks, ${f2(p.inputTB)} TB of input`,
  );
  const d1 = await dispatchRate(20_000, true);
  const d2 = await dispatchRate(10_000);
  line(
    `dispatch/ack of no-op tasks through JetStream: ${d1.perSecond.toFixed(0)} tasks/s answered by a minimal responder (the coordinator's side), ${d2.perSecond.toFixed(0)} tasks/s through 2 worker processes`,
  );
  const size = process.env.BENCH_VIRTUAL ?? '1b';
  const v1 = await virtualMerge(size, 1);
  const v2 = await virtualMerge(size, 2);
  const overhead = (v: typeof v1, n: number) => `${(100 * (1 - v.taskSeconds / (v.seconds * n))).toFixed(1)}%`;
  line(
    `virtual merge (synthetic llama-${size}, task_arithmetic of 3 experts, ${f2(v1.inputGB)} GB generated on read, null:// output): 1 worker ${f2(v1.seconds)} s, 2 workers ${f2(v2.seconds)} s, speed-up ${(v1.seconds / v2.seconds).toFixed(2)}x; scheduling overhead (wall x threads - time in tasks) ${overhead(v1, 1)} and ${overhead(v2, 2)}; output digests ${v1.digest === v2.digest ? 'identical' : 'DIFFERENT'}`,
  );

  const ds = plan671b();
  line(
    `planning task arithmetic of 3 experts of a virtual DeepSeek-V3 671B (FP8 weights with 128x128 block scales): ${f2(ds.seconds)} s, peak RSS ${ds.rssMiB.toFixed(0)} MiB, ${ds.tensors} tensors, ${ds.mergeTasks} merge tasks, ${f2(ds.inputTB)} TB of input`,
  );
  const dsLayers = Number(process.env.BENCH_MOE_LAYERS ?? 1);
  const run = await layersRun(dsLayers);
  line(
    `its first ${dsLayers} decoder layers (with embeddings and head) end to end on 2 worker processes, null:// output: ${f2(run.seconds)} s, ${f2(run.inputGB)} GB of input generated on read (${f2(run.inputGB / run.seconds)} GB/s), ${run.tasks} tasks, coordinator peak RSS ${run.coordinatorRssMiB.toFixed(0)} MiB`,
  );

  line('\n## Model runtime (onnxruntime CPU, up to 2 threads; PyTorch peer: the same forward pass in float32, 2 threads)');
  line('model                                    batch x prompt  prefill tok/s (torch)   decode tok/s (torch)');
  for (const f of await forwardFigures(dir)) {
    if (f.threads !== WORKERS) line(`(${f.model}: ${f.threads} onnxruntime thread, the runtime's choice for a model this narrow)`);
    const ratio = (a: number, b?: number) => (b ? ` (${b.toFixed(0)}, ${(a / b).toFixed(2)}x)` : '');
    line(
      `${f.model.padEnd(40)} ${`${f.batch} x ${f.promptLen}`.padStart(14)}  ${(f.prefill.toFixed(0) + ratio(f.prefill, f.torchPrefill)).padStart(22)}  ${(f.decode.toFixed(1) + ratio(f.decode, f.torchDecode)).padStart(21)}`,
    );
  }
  line('\n## Planner (leave-one-task-out on the shipped zoo outcomes, data/zoo-outcomes.arrow)');
  const plannerEval = spawnSync(
    process.execPath,
    [
      fileURLToPath(new URL('../../packages/cli/bin/tessera.js', import.meta.url)),
      'planner',
      'evaluate',
      fileURLToPath(new URL('../../data/zoo-outcomes.arrow', import.meta.url)),
    ],
    { encoding: 'utf8' },
  );
  line(plannerEval.stdout.trim() || plannerEval.stderr.trim());
  const layers = Number(process.env.BENCH_PLAN_LAYERS ?? 1);
  const sp = await planner405b(layers);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  line(
    `tessera plan of 3 experts of a virtual 405B model over NATS (2 worker processes), structural signals from ${layers} of 126 decoder layers (${((100 * layers) / 126).toFixed(1)}% of the weights): ${f2(sp.seconds)} s, ${sp.tasks} stats tasks; peak RSS: planner ${mib(sp.plannerRss)}, workers ${sp.workerRss.map(mib).join(' and ')}; at this rate every tensor would take about ${((sp.seconds * 126) / layers / 3600).toFixed(1)} h; plan: ${sp.plan}`,
  );
  line('\n## AIM on zoo merges (exact-match accuracy %, own tasks of the merged experts)');
  for (const l of await aimTable()) line(l);

  line(`\n## Reader fuzzing (${fuzzSeconds} s)`);
  const fz = await fuzzLong(fuzzSeconds);
  line(`${fz.tried} mutated checkpoints: ${fz.rejected} rejected with a CheckpointError, ${fz.read} read correctly, 0 crashes; slowest ${f2(fz.slowestMs)} ms`);
  line(
    `by kind: ${Object.entries(fz.kinds)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );
}

await main();
