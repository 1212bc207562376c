// The part of onnx.proto that Tessera writes (models, graphs, nodes, attributes, tensors, value
// infos), encoded with protobufjs: no Python, no exported files, no generated code.
import protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto3";
package onnx;
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message StringStringEntryProto { string key = 1; string value = 2; }
message ModelProto { int64 ir_version = 1; string producer_name = 2; GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8; repeated StringStringEntryProto metadata_props = 14; }
message GraphProto { repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5; repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12; }
message NodeProto { repeated string input = 1; repeated string output = 2; string name = 3; string op_type = 4; repeated AttributeProto attribute = 5; string domain = 7; }
message AttributeProto { string name = 1; float f = 2; int64 i = 3; bytes s = 4; TensorProto t = 5; repeated float floats = 7; repeated int64 ints = 8; repeated bytes strings = 9; int32 type = 20; }
message TensorProto { repeated int64 dims = 1; int32 data_type = 2; repeated float float_data = 4; repeated int64 int64_data = 7; string name = 8; bytes raw_data = 9; }
message ValueInfoProto { string name = 1; TypeProto type = 2; }
message TypeProto { message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; } Tensor tensor_type = 1; }
message TensorShapeProto { message Dimension { int64 dim_value = 1; string dim_param = 2; } repeated Dimension dim = 1; }
`;

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;
const ModelProto = root.lookupType('onnx.ModelProto');

/** ONNX element types used here */
export const ELEM = { float: 1, int64: 7 } as const;
/** AttributeProto.AttributeType */
export const ATTR = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7, strings: 8 } as const;
/** The opset the graphs are written for (ReduceMean takes `axes` as an attribute up to 17). */
const OPSET = 17;
const IR_VERSION = 8;

/** Serialises a graph (plain object in the schema's field names) into an ONNX model. */
export function encodeModel(
  graph: Record<string, unknown>,
  extra: { opsets?: { domain: string; version: number }[]; metadata?: Record<string, string> } = {},
): Uint8Array {
  const model = {
    ir_version: IR_VERSION,
    producer_name: 'tessera',
    graph,
    opset_import: [{ domain: '', version: OPSET }, ...(extra.opsets ?? [])],
    metadata_props: Object.entries(extra.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  const err = ModelProto.verify(model);
  if (err) throw new Error(`internal error: invalid ONNX model (${err})`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

/** The metadata of an ONNX model (metadata_props), read without running it. */
export function modelMetadata(bytes: Uint8Array): Record<string, string> {
  const m = ModelProto.toObject(ModelProto.decode(bytes), { defaults: true }) as { metadata_props?: { key: string; value: string }[] };
  return Object.fromEntries((m.metadata_props ?? []).map((e) => [e.key, e.value]));
}
