/**
 * A minimal writer of the ONNX protobuf messages a feed-forward policy needs: ModelProto, GraphProto,
 * NodeProto, AttributeProto, TensorProto, ValueInfoProto and TypeProto. Field numbers and enum values
 * are those of `onnx/onnx.proto` (the ONNX repository); each is cited beside its use. Only writing is
 * needed, so this is a few dozen lines of the protobuf wire format
 * (https://protobuf.dev/programming-guides/encoding/) rather than a protobuf library and its schema.
 */

/** Protobuf wire types. */
const VARINT = 0;
const LEN = 2;

/** `TensorProto.DataType` values (onnx.proto). */
export const DataType = { FLOAT: 1, INT64: 7, DOUBLE: 11 } as const;
export type DataType = (typeof DataType)[keyof typeof DataType];

/** `AttributeProto.AttributeType` values (onnx.proto). */
const AttributeType = { FLOAT: 1, INT: 2 } as const;

/** Appends fields of one message; `finish()` gives its bytes. */
class MessageWriter {
  private readonly chunks: Uint8Array[] = [];

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
  }

  private tag(field: number, wireType: number): void {
    this.push(varint(BigInt((field << 3) | wireType)));
  }

  /** int32/int64/enum field. Negative values take ten bytes (two's complement over 64 bits), as protobuf says. */
  int(field: number, value: number): this {
    if (!Number.isSafeInteger(value)) throw new RangeError(`not an integer: ${value}`);
    this.tag(field, VARINT);
    this.push(varint(BigInt.asUintN(64, BigInt(value))));
    return this;
  }

  /** float field (wire type 5, little-endian IEEE 754 single). */
  float(field: number, value: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, LEN);
    this.push(varint(BigInt(value.length)));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: MessageWriter): this {
    return this.bytes(field, value.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function varint(value: bigint): Uint8Array {
  const bytes: number[] = [];
  let v = value;
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (v !== 0n);
  return Uint8Array.from(bytes);
}

/** A constant tensor (a graph initializer), stored little-endian in `raw_data`. */
export interface OnnxTensor {
  name: string;
  dataType: DataType;
  dims: readonly number[];
  data: Float32Array | Float64Array | BigInt64Array;
}

function tensorProto(t: OnnxTensor): MessageWriter {
  const size = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== size)
    throw new RangeError(`tensor ${t.name}: ${t.data.length} values for dims [${t.dims.join(", ")}]`);
  const raw = new Uint8Array(t.data.byteLength);
  const view = new DataView(raw.buffer);
  const width = t.data.BYTES_PER_ELEMENT;
  for (let i = 0; i < size; i++) {
    if (t.data instanceof Float32Array) view.setFloat32(i * width, t.data[i], true);
    else if (t.data instanceof Float64Array) view.setFloat64(i * width, t.data[i], true);
    else view.setBigInt64(i * width, t.data[i], true);
  }
  // TensorProto: dims = 1 (repeated int64, unpacked in proto2), data_type = 2, name = 8, raw_data = 9.
  const w = new MessageWriter();
  for (const d of t.dims) w.int(1, d);
  return w.int(2, t.dataType).string(8, t.name).bytes(9, raw);
}

/** A graph input or output: a tensor type whose dims are sizes or symbolic names (e.g. "batch"). */
export interface OnnxValueInfo {
  name: string;
  elemType: DataType;
  dims: readonly (number | string)[];
  docString?: string;
}

function valueInfoProto(v: OnnxValueInfo): MessageWriter {
  // TensorShapeProto.dim = 1; Dimension: dim_value = 1, dim_param = 2.
  const shape = new MessageWriter();
  for (const d of v.dims) {
    const dim = new MessageWriter();
    if (typeof d === "number") dim.int(1, d);
    else dim.string(2, d);
    shape.message(1, dim);
  }
  // TypeProto.Tensor: elem_type = 1, shape = 2; TypeProto: tensor_type = 1.
  const tensorType = new MessageWriter().int(1, v.elemType).message(2, shape);
  const type = new MessageWriter().message(1, tensorType);
  // ValueInfoProto: name = 1, type = 2, doc_string = 3.
  const w = new MessageWriter().string(1, v.name).message(2, type);
  if (v.docString) w.string(3, v.docString);
  return w;
}

export type OnnxAttribute = { name: string; int: number } | { name: string; float: number };

export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name: string;
  attributes?: readonly OnnxAttribute[];
}

function nodeProto(n: OnnxNode): MessageWriter {
  // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.
  const w = new MessageWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name).string(4, n.opType);
  for (const a of n.attributes ?? []) {
    // AttributeProto: name = 1, f = 2, i = 3, type = 20 (required since IR version 2).
    const attr = new MessageWriter().string(1, a.name);
    if ("int" in a) attr.int(3, a.int).int(20, AttributeType.INT);
    else attr.float(2, a.float).int(20, AttributeType.FLOAT);
    w.message(5, attr);
  }
  return w;
}

export interface OnnxModel {
  irVersion: number;
  /** Version of the default ("ai.onnx") operator set. */
  opsetVersion: number;
  producerName: string;
  producerVersion: string;
  docString: string;
  graph: {
    name: string;
    nodes: readonly OnnxNode[];
    initializers: readonly OnnxTensor[];
    inputs: readonly OnnxValueInfo[];
    outputs: readonly OnnxValueInfo[];
  };
  /** ModelProto.metadata_props: what onnxruntime shows as the model's custom metadata. */
  metadata: Record<string, string>;
}

/** The serialized ModelProto, what a `.onnx` file holds. */
export function encodeModel(m: OnnxModel): Uint8Array {
  // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
  const graph = new MessageWriter();
  for (const n of m.graph.nodes) graph.message(1, nodeProto(n));
  graph.string(2, m.graph.name);
  for (const t of m.graph.initializers) graph.message(5, tensorProto(t));
  for (const i of m.graph.inputs) graph.message(11, valueInfoProto(i));
  for (const o of m.graph.outputs) graph.message(12, valueInfoProto(o));
  // ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, doc_string = 6, graph = 7,
  // opset_import = 8 (OperatorSetIdProto: domain = 1, version = 2; "" is ai.onnx), metadata_props = 14
  // (StringStringEntryProto: key = 1, value = 2).
  const model = new MessageWriter()
    .int(1, m.irVersion)
    .string(2, m.producerName)
    .string(3, m.producerVersion)
    .string(6, m.docString)
    .message(7, graph)
    .message(8, new MessageWriter().string(1, "").int(2, m.opsetVersion));
  for (const [key, value] of Object.entries(m.metadata))
    model.message(14, new MessageWriter().string(1, key).string(2, value));
  return model.finish();
}
