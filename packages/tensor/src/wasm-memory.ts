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

/** How an error names a record: '' for the head, `[k].` for input block k. */
const where = (block: number) => (block < 0 ? '' : `[${block}].`);

export const align = (x: number) => Math.ceil(x / ALIGN) * ALIGN;

export class KernelMemory {
  private readonly ex: Exports;
  /** the next free byte */
  free = DATA_START;
  private slotView: Float64Array | undefined;

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
    const count = layout.head.length + args.each.length * layout.each.length;
    if (count * 8 > ARGS_BYTES) throw new Error(`kernel ${exportName}: too many arguments (${count})`);
    const into = this.argSlots();
    let at = this.pack(into, 0, slots, layout.head, args.head, -1);
    for (let i = 0; i < args.each.length; i++) at = this.pack(into, at, slots, layout.each, args.each[i]!, i);
    const fn = this.ex[exportName] as Kernel | undefined;
    if (!fn) throw new Error(`unknown kernel ${exportName}`);
    return (fn(ARGS) as number | undefined) ?? 0;
  }

  /** The argument block as f64 slots (a view kept until the memory grows: calls run once per stripe). */
  private argSlots(): Float64Array {
    if (this.slotView?.buffer !== this.buffer) {
      this.ensure(Math.max(this.free, DATA_START));
      this.slotView = new Float64Array(this.buffer, ARGS, ARGS_BYTES / 8);
    }
    return this.slotView;
  }

  /** Writes a record's values (the head, or input block `block`) in slot order from `at`; every slot must be set and no other. */
  private pack(into: Float64Array, at: number, slots: string, names: readonly string[], from: Readonly<Record<string, number>>, block: number): number {
    for (let i = 0; i < names.length; i++) {
      const v = from[names[i]!];
      if (v === undefined) throw new Error(`kernel ${slots}: slot ${where(block)}${names[i]} is not set`);
      into[at + i] = v;
    }
    let keys = 0;
    for (const _ in from) keys++;
    if (keys !== names.length)
      throw new Error(
        `kernel ${slots}: ${where(block)}slots not declared: ${Object.keys(from)
          .filter((k) => !names.includes(k))
          .join(', ')}`,
      );
    return at + names.length;
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
