// The WebAssembly instance of one thread: its linear memory (a bump allocator over the region
// after the argument block) and kernel calls, whose arguments are packed into f64 slots in the
// order kernel-slots.json declares (the AssemblyScript kernels read the same declaration).
import { KERNEL_SLOTS } from './generated/kernel-slots.js';
import { KERNELS_WASM_BASE64 } from './generated/kernels-wasm.js';

type Kernel = (args: number) => number;
// The part of the WebAssembly JS API used here (TypeScript declares it only in the DOM library).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
interface Exports {
  memory: WasmMemory;
  [name: string]: Kernel | WasmMemory;
}

/** Argument values of one call, by slot name: the head, then one record per input block. */
export interface KernelArgs {
  head: Readonly<Record<string, number>>;
  each: readonly Readonly<Record<string, number>>[];
}

const ARGS = 65536;
const ARGS_BYTES = 65536;
const ALIGN = 64;
/** The first byte after the argument block: inputs and scratch are laid out from here. */
export const DATA_START = ARGS + ARGS_BYTES;

let compiled: object | undefined;
function module(): object {
  if (!compiled) compiled = new WebAssembly.Module(Uint8Array.from(atob(KERNELS_WASM_BASE64), (c) => c.charCodeAt(0)));
  return compiled;
}

export const align = (x: number) => Math.ceil(x / ALIGN) * ALIGN;

export class KernelMemory {
  private readonly ex: Exports;
  /** the next free byte */
  free = DATA_START;

  constructor() {
    this.ex = new WebAssembly.Instance(module(), {
      env: {
        abort: () => {
          throw new Error('kernel abort');
        },
      },
    }).exports as unknown as Exports;
  }

  get buffer(): ArrayBuffer {
    return this.ex.memory.buffer;
  }

  /** Reserves `bytes` (aligned) and returns their address; call ensure() before using them. */
  alloc(bytes: number): number {
    const at = this.free;
    this.free = align(this.free + bytes);
    return at;
  }

  /** Grows the memory to hold every allocation so far. */
  ensure(bytes = this.free): void {
    const mem = this.ex.memory;
    if (bytes > mem.buffer.byteLength) mem.grow(Math.ceil((bytes - mem.buffer.byteLength) / 65536));
  }

  /** Copies f32 values into new memory and returns their address. */
  f32(values: Float32Array): number {
    const at = this.alloc(values.length * 4);
    this.ensure();
    new Float32Array(this.buffer, at, values.length).set(values);
    return at;
  }

  /** Calls `exportName` with the arguments of kernel `slots` (kernel-slots.json); returns its result. */
  call(exportName: string, slots: string, args: KernelArgs): number {
    const layout = KERNEL_SLOTS[slots];
    if (!layout) throw new Error(`kernel ${slots} has no declared slots`);
    const values: number[] = [];
    const take = (names: readonly string[], from: Readonly<Record<string, number>>, where: string) => {
      for (const name of names) {
        const v = from[name];
        if (v === undefined) throw new Error(`kernel ${slots}: slot ${where}${name} is not set`);
        values.push(v);
      }
      if (Object.keys(from).length !== names.length)
        throw new Error(
          `kernel ${slots}: ${where}slots not declared: ${Object.keys(from)
            .filter((k) => !names.includes(k))
            .join(', ')}`,
        );
    };
    take(layout.head, args.head, '');
    args.each.forEach((e, i) => take(layout.each, e, `[${i}].`));
    if (values.length * 8 > ARGS_BYTES) throw new Error(`kernel ${exportName}: too many arguments (${values.length})`);
    new Float64Array(this.buffer, ARGS, values.length).set(values);
    const fn = this.ex[exportName] as Kernel | undefined;
    if (!fn) throw new Error(`unknown kernel ${exportName}`);
    return (fn(ARGS) as number | undefined) ?? 0;
  }

  /** Slot `name` of input block `k` as the last call of kernel `slots` left it (e.g. a tie quota it consumed). */
  blockSlot(slots: string, k: number, name: string): number {
    const layout = KERNEL_SLOTS[slots];
    const at = layout ? layout.each.indexOf(name) : -1;
    if (!layout || at < 0) throw new Error(`kernel ${slots} has no block slot ${name}`);
    return new Float64Array(this.buffer, ARGS + (layout.head.length + k * layout.each.length + at) * 8, 1)[0]!;
  }

  /** The first argument slot after a call (a kernel may return a second count there). */
  firstSlot(): number {
    return new Float64Array(this.buffer, ARGS, 1)[0]!;
  }
}
