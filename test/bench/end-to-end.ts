// End-to-end merges, Tessera and the PyTorch peer alternating (A B A B ...), each figure the
// median of the runs with their range, next to the machine's floors measured in the same run.
import { join } from 'node:path';
import { type Floors, cpuFloorSeconds, floorSeconds, measureFloors } from './floors.js';
import type { KernelFigure } from './kernels.js';
import { OPS, type Op, type PeerRun, type TesseraRun, runPeer, runTessera, warmPageCache } from './merges.js';

const f2 = (x: number) => x.toFixed(2);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
/** "median (min–max)" */
const spread = (xs: number[]) => `${f2(median(xs))} (${f2(Math.min(...xs))}–${f2(Math.max(...xs))})`;

/** The kernels (as the kernel bench names them) each operator runs over its whole input, one pass each. */
const PASSES: Record<Op, string[]> = {
  task_arithmetic: ['task_arithmetic merge'],
  ties: ['top-k pass 1 (high-bits histogram)', 'ties merge (top-k masks, sign election)'],
  dare_ties: ['L1 norms (DARE rescale)', 'dare_ties merge (random masks, rescaled)'],
  della: ['L1 norms (DELLA rescale)', 'della merge (ranks within rows)'],
};

/** The share of the peer's input an operator gets: the peer's DELLA (two argsorts per row) runs at about 0.01 GB/s. */
const PEER_SHARE: Record<Op, number> = { task_arithmetic: 1, ties: 1, dare_ties: 1, della: 0.2 };

export function endToEnd(dir: string, opts: { workers: number; runs: number; peerBytes?: number; kernels: KernelFigure[] }): string[] {
  const lines: string[] = [];
  const inputs = ['base', 'e1', 'e2', 'e3'].map((m) => join(dir, m, 'model.safetensors'));
  let floors: Floors | undefined;
  lines.push(
    `op               tessera GB/s median (min–max)  wall s  start s   peak RSS  torch GB/s median (min–max)  tessera/torch  floor s  wall/floor  cpu floor s  wall/cpu floor  (${opts.runs} runs each, alternating)`,
  );
  for (const op of OPS) {
    const t: TesseraRun[] = [],
      p: PeerRun[] = [];
    for (let r = 0; r < opts.runs; r++) {
      warmPageCache(dir);
      t.push(runTessera(dir, op, opts.workers, false));
      if (opts.peerBytes) p.push(runPeer(dir, op, opts.peerBytes * PEER_SHARE[op], opts.workers));
    }
    floors ??= measureFloors(inputs, dir, t[0]!.outputBytes, opts.workers);
    const floor = floorSeconds(floors, t[0]!.inputBytes, t[0]!.outputBytes);
    const gbps = PASSES[op].map((name) => {
      const k = opts.kernels.find((x) => x.name === name);
      if (!k) throw new Error(`no kernel figure named ${name}`);
      return k.gbps;
    });
    const cpuFloor = cpuFloorSeconds(floors, gbps, t[0]!.inputBytes, t[0]!.outputBytes, opts.workers);
    const wall = median(t.map((x) => x.seconds));
    const tg = t.map((x) => x.gbps),
      pg = p.map((x) => x.gbps);
    lines.push(
      `${op.padEnd(16)} ${spread(tg).padStart(29)} ${f2(wall).padStart(7)} ${f2(median(t.map((x) => x.startSeconds))).padStart(7)} ${(Math.max(...t.map((x) => x.peakRssBytes)) / 2 ** 30).toFixed(2).padStart(6)} GiB ${(pg.length ? spread(pg) : '--').padStart(28)} ${(pg.length ? `${(median(tg) / median(pg)).toFixed(1)}x` : '--').padStart(14)} ${f2(floor).padStart(8)} ${`${(wall / floor).toFixed(1)}x`.padStart(11)} ${f2(cpuFloor).padStart(12)} ${`${(wall / cpuFloor).toFixed(1)}x`.padStart(15)}`,
    );
  }
  const f = floors!;
  lines.push(
    `floors, measured in this run: page-cache read ${f2(f.read)} GB/s, write into a new file ${f2(f.write)} GB/s (no fsync), sha256 ${f2(f.sha256)} GB/s (one core), memcpy ${f2(f.memcpy)} GB/s, Node starting ${opts.workers} empty worker threads ${f2(f.start)} s; a merge's floor: its inputs read once plus its output written once; its cpu floor: the CPU work it cannot avoid (each pass's page-cache read and kernel at the kernel bench's speed, the output's sha256 and write) shared perfectly by ${opts.workers} cores; start: the process's start-up, reading the recipe and headers and planning, and its exit after the merge`,
  );
  return lines;
}
