// A small builder for ONNX graphs: named inputs and outputs, constants, and operator nodes
// with generated value names.
import { ATTR, ELEM, encodeModel } from './onnx-proto.js';

export type Dim = number | string;
export type Attr = { f: number } | { i: number } | { ints: number[] } | { floats: number[] } | { s: string } | { strings: string[] };
type ElemType = keyof typeof ELEM;

function valueInfo(name: string, elem: ElemType, dims: Dim[]) {
  return {
    name,
    type: { tensor_type: { elem_type: ELEM[elem], shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) } } },
  };
}

function attribute(name: string, a: Attr) {
  if ('f' in a) return { name, type: ATTR.float, f: a.f };
  if ('i' in a) return { name, type: ATTR.int, i: a.i };
  if ('ints' in a) return { name, type: ATTR.ints, ints: a.ints };
  if ('s' in a) return { name, type: ATTR.string, s: Buffer.from(a.s) };
  if ('strings' in a) return { name, type: ATTR.strings, strings: a.strings.map((x) => Buffer.from(x)) };
  return { name, type: ATTR.floats, floats: a.floats };
}

export class Graph {
  private readonly nodes: Record<string, unknown>[] = [];
  private readonly inputs: Record<string, unknown>[] = [];
  private readonly outputs: Record<string, unknown>[] = [];
  private readonly initializers: Record<string, unknown>[] = [];
  private readonly consts = new Map<string, string>();
  private count = 0;

  constructor(readonly name: string) {}

  input(name: string, dims: Dim[], elem: ElemType = 'float'): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  /** Declares `value` a graph output under `name` (an Identity node when the names differ). */
  output(value: string, name: string, dims: Dim[], elem: ElemType = 'float'): void {
    if (value !== name) this.nodes.push({ op_type: 'Identity', input: [value], output: [name], name: `n${this.nodes.length}` });
    this.outputs.push(valueInfo(name, elem, dims));
  }

  /** A constant tensor (an initializer), shared between uses of the same values. */
  constant(values: readonly number[], elem: ElemType, dims: number[] = [values.length]): string {
    const key = `${elem}:${dims.join('x')}:${values.join(',')}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const name = `c${this.consts.size}`;
    this.initializers.push({ name, dims, data_type: ELEM[elem], ...(elem === 'float' ? { float_data: [...values] } : { int64_data: [...values] }) });
    this.consts.set(key, name);
    return name;
  }

  scalar(x: number): string {
    return this.constant([x], 'float', []);
  }

  ints(values: readonly number[]): string {
    return this.constant(values, 'int64');
  }

  /** Adds a node (of `domain`, default ONNX's own) and returns the name of its (first) output. */
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, domain = ''): string {
    const out = `v${this.count++}`;
    this.nodes.push({
      op_type: type,
      ...(domain ? { domain } : {}),
      name: `n${this.nodes.length}`,
      input: inputs,
      output: [out],
      attribute: Object.entries(attrs).map(([k, a]) => attribute(k, a)),
    });
    return out;
  }

  /** Adds a node with `count` outputs (TopK's values and indices, ...) and returns their names. */
  ops(type: string, inputs: string[], count: number, attrs: Record<string, Attr> = {}): string[] {
    const outs = Array.from({ length: count }, () => `v${this.count++}`);
    this.nodes.push({
      op_type: type,
      name: `n${this.nodes.length}`,
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, a]) => attribute(k, a)),
    });
    return outs;
  }

  encode(extra: Parameters<typeof encodeModel>[1] = {}): Uint8Array {
    return encodeModel({ name: this.name, node: this.nodes, input: this.inputs, output: this.outputs, initializer: this.initializers }, extra);
  }
}
