/**
 * A WebAssembly SIMD (128-bit, f32x4) GEMM for the fused kernel, emitted as bytes at run time so
 * that no toolchain is needed. One strided kernel serves both products the kernel needs:
 *
 *   C[r, j] = epilogue(init[j] + Σ_q A[r·aRowStride + q·aStride] · B[q, j])   r < rows, q < red, j < N
 *
 *   dense (x·W + b, then tanh):  rows = M, red = K, aRowStride = K, aStride = 1, init = b, act = 1
 *   nnGrad (dy·Wᵀ ⊙ (1 − h²)):   same strides, init = 0, act = 2 (H read beside C)
 *   tn (xᵀ·dy):                  rows = K, red = M, aRowStride = 1, aStride = K, init = 0, act = 0
 *
 * Each output row is computed in strips of 16 columns held in four f32x4 registers across the whole
 * reduction (then strips of 4), so C is written once per strip, with the bias and the activation
 * (or its derivative) applied in registers. tanh is the rational approximation of gemm.ts. Columns beyond the
 * last multiple of 4 (the policy and value heads) run in a scalar f32 strip that supports the linear
 * epilogue only. Operands must be views of an Arena's memory (the module imports it); other calls
 * (a non-linear epilogue with N mod 4 ≠ 0) fall back to the JavaScript GEMM (`wasmCovers`). ReLU and
 * its derivative are lane masks (compare, then and-not), exactly gemm.ts's branches.
 * WebAssembly SIMD: https://github.com/WebAssembly/simd (standardised; in V8 since 9.1).
 */
import { memoryOf } from "./arena.ts";
import { type Gemm, jsGemm, type LayerActivation, TANH_ALPHA, TANH_BETA, TANH_CLAMP } from "./gemm.ts";
import { Wasm } from "./wasm-api.ts";

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32 = (v: number) => [0x41, ...sleb(v)];
const ADD = [0x6a];
const MUL = [0x6c];
const SHL = [0x74];
const GE_S = [0x4e];
const GT_S = [0x4a];
const EQZ = [0x45];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const IF = [0x04, 0x40];
const ELSE = [0x05];
const END = [0x0b];
const br = (d: number) => [0x0c, d];
const brIf = (d: number) => [0x0d, d];
const f32Load = [0x2a, 0x02, 0x00];
const v128Load = (offset: number) => [0xfd, 0x00, 0x04, ...uleb(offset)];
const v128Store = (offset: number) => [0xfd, 0x0b, 0x04, ...uleb(offset)];
const SPLAT = [0xfd, 0x13];
const FADD = [0xfd, ...uleb(0xe4)];
const FMUL = [0xfd, ...uleb(0xe6)];
const FSUB = [0xfd, ...uleb(0xe5)];
const FDIV = [0xfd, ...uleb(0xe7)];
const FMIN = [0xfd, ...uleb(0xe8)];
const FMAX = [0xfd, ...uleb(0xe9)];
const EQ = [0x46];
const FLT = [0xfd, ...uleb(0x43)];
const FLE = [0xfd, ...uleb(0x45)];
const ANDNOT = [0xfd, ...uleb(0x4f)];

/** v128.const with the float32 `v` in all four lanes. */
function splatConst(v: number): number[] {
  const bytes = new Uint8Array(new Float32Array([v, v, v, v]).buffer);
  return [0xfd, 0x0c, ...bytes];
}
const ZERO = [0xfd, 0x0c, ...new Array(16).fill(0)];

// Parameters of gemm(A, B, C, rows, red, N, aRowStride, aStride, init, act, H): strides in floats,
// init a bias pointer or −1 for zeros, act 0 none / 1 tanh / 2 multiply by 1 − H² / 3 ReLU /
// 4 zero where H ≤ 0 (ReLU's derivative through its output).
const ACT_CODE = { linear: 0, tanh: 1, tanhGrad: 2, relu: 3, reluGrad: 4 } as const;
const [A, B, C, ROWS, RED, N, AROW, ASTEP, INIT, ACT, H] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const PARAMS = 11;
const [R, J, Q, AP, BP, CP, BSTEP, AROWP, HP] = [11, 12, 13, 14, 15, 16, 17, 18, 19];
const I32_LOCALS = 9;
const VA = 20;
const VC = 21; // 21..24
const VX = 25;
const VP = 26;
const V128_LOCALS = 7;
const VS = 27; // f32 scalar accumulator of the 1-column strip
const F32 = 0x7d;

/** tanh of local v in place (Eigen's rational approximation, see gemm.ts). */
function tanhInPlace(v: number): number[] {
  const code: number[] = [];
  // x = clamp(v); x2 = x·x (in VX)
  code.push(...get(v), ...splatConst(-TANH_CLAMP), ...FMAX, ...splatConst(TANH_CLAMP), ...FMIN, ...set(v));
  code.push(...get(v), ...get(v), ...FMUL, ...set(VX));
  // p = ((…(x2·α6 + α5)·x2 + …)·x2 + α0)·x
  code.push(...get(VX), ...splatConst(TANH_ALPHA[6]), ...FMUL, ...splatConst(TANH_ALPHA[5]), ...FADD);
  for (let k = 4; k >= 0; k--) code.push(...get(VX), ...FMUL, ...splatConst(TANH_ALPHA[k]), ...FADD);
  code.push(...get(v), ...FMUL, ...set(VP));
  // q = ((x2·β3 + β2)·x2 + β1)·x2 + β0; v = p / q
  code.push(...get(VX), ...splatConst(TANH_BETA[3]), ...FMUL, ...splatConst(TANH_BETA[2]), ...FADD);
  for (let k = 1; k >= 0; k--) code.push(...get(VX), ...FMUL, ...splatConst(TANH_BETA[k]), ...FADD);
  code.push(...set(VX), ...get(VP), ...get(VX), ...FDIV, ...set(v));
  return code;
}

/** Body of the strip loop for `width` columns (16 or 4) held in width/4 registers. */
function strip(width: number): number[] {
  const regs = width / 4;
  const code: number[] = [];
  // Exit when fewer than `width` columns remain.
  code.push(...BLOCK, ...LOOP);
  code.push(...get(J), ...i32(width), ...ADD, ...get(N), ...GT_S, ...brIf(1));
  code.push(...stripPointers());
  // Accumulators start from the bias strip (init ≥ 0) or zero.
  code.push(...get(INIT), ...i32(0), ...GE_S, ...IF);
  code.push(...get(INIT), ...get(J), ...i32(2), ...SHL, ...ADD, ...set(AP));
  for (let q = 0; q < regs; q++) code.push(...get(AP), ...v128Load(16 * q), ...set(VC + q));
  code.push(...ELSE);
  for (let q = 0; q < regs; q++) code.push(...ZERO, ...set(VC + q));
  code.push(...END);
  code.push(...get(AROWP), ...set(AP));
  // Reduction: q counts down from red.
  code.push(...get(RED), ...set(Q));
  code.push(...BLOCK, ...LOOP);
  code.push(...get(Q), ...EQZ, ...brIf(1));
  code.push(...get(AP), ...f32Load, ...SPLAT, ...set(VA));
  for (let q = 0; q < regs; q++) {
    code.push(...get(VC + q), ...get(VA), ...get(BP), ...v128Load(16 * q), ...FMUL, ...FADD, ...set(VC + q));
  }
  code.push(...get(AP), ...get(ASTEP), ...ADD, ...set(AP));
  code.push(...get(BP), ...get(BSTEP), ...ADD, ...set(BP));
  code.push(...get(Q), ...i32(-1), ...ADD, ...set(Q));
  code.push(...br(0), ...END, ...END);
  // Epilogue: tanh (act 1) or ⊙ (1 − H²) with H at the same position as C (act 2).
  code.push(...get(ACT), ...i32(ACT_CODE.tanh), ...EQ, ...IF);
  for (let q = 0; q < regs; q++) code.push(...tanhInPlace(VC + q));
  code.push(...END);
  code.push(...get(ACT), ...i32(ACT_CODE.tanhGrad), ...EQ, ...IF);
  code.push(...get(H), ...get(CP), ...get(C), ...[0x6b], ...ADD, ...set(HP));
  for (let q = 0; q < regs; q++) {
    code.push(...get(HP), ...v128Load(16 * q), ...set(VX));
    code.push(
      ...get(VC + q),
      ...splatConst(1),
      ...get(VX),
      ...get(VX),
      ...FMUL,
      ...FSUB,
      ...FMUL,
      ...set(VC + q),
    );
  }
  code.push(...END);
  // ReLU (act 3) as gemm.ts's `if (c < 0) c = 0`: the lanes below zero cleared (andnot of the mask).
  code.push(...get(ACT), ...i32(ACT_CODE.relu), ...EQ, ...IF);
  for (let q = 0; q < regs; q++) {
    code.push(...get(VC + q), ...get(VC + q), ...ZERO, ...FLT, ...ANDNOT, ...set(VC + q));
  }
  code.push(...END);
  // Its derivative (act 4) as gemm.ts's `if (h <= 0) c = 0`, with H at the same position as C.
  code.push(...get(ACT), ...i32(ACT_CODE.reluGrad), ...EQ, ...IF);
  code.push(...get(H), ...get(CP), ...get(C), ...[0x6b], ...ADD, ...set(HP));
  for (let q = 0; q < regs; q++) {
    code.push(...get(VC + q), ...get(HP), ...v128Load(16 * q), ...ZERO, ...FLE, ...ANDNOT, ...set(VC + q));
  }
  code.push(...END);
  for (let q = 0; q < regs; q++) code.push(...get(CP), ...get(VC + q), ...v128Store(16 * q));
  code.push(...get(J), ...i32(width), ...ADD, ...set(J));
  code.push(...br(0), ...END, ...END);
  return code;
}

/** The last columns (N mod 4) one at a time, in scalar f32; only for linear epilogues (act 0). */
/** cp = C + (r·N + j)·4 and bp = B + j·4: where column strip j of row r starts in C and in B. */
function stripPointers(): number[] {
  return [
    ...get(C),
    ...get(R),
    ...get(N),
    ...MUL,
    ...get(J),
    ...ADD,
    ...i32(2),
    ...SHL,
    ...ADD,
    ...set(CP),
    ...get(B),
    ...get(J),
    ...i32(2),
    ...SHL,
    ...ADD,
    ...set(BP),
  ];
}

function scalarStrip(): number[] {
  const code: number[] = [];
  code.push(...BLOCK, ...LOOP);
  code.push(...get(J), ...get(N), ...GE_S, ...brIf(1));
  code.push(...stripPointers());
  code.push(...get(INIT), ...i32(0), ...GE_S, ...IF);
  code.push(...get(INIT), ...get(J), ...i32(2), ...SHL, ...ADD, ...f32Load, ...set(VS));
  code.push(...ELSE, ...[0x43, 0, 0, 0, 0], ...set(VS), ...END);
  code.push(...get(AROWP), ...set(AP), ...get(RED), ...set(Q));
  code.push(...BLOCK, ...LOOP);
  code.push(...get(Q), ...EQZ, ...brIf(1));
  code.push(...get(VS), ...get(AP), ...f32Load, ...get(BP), ...f32Load, ...[0x94], ...[0x92], ...set(VS));
  code.push(...get(AP), ...get(ASTEP), ...ADD, ...set(AP));
  code.push(...get(BP), ...get(BSTEP), ...ADD, ...set(BP));
  code.push(...get(Q), ...i32(-1), ...ADD, ...set(Q));
  code.push(...br(0), ...END, ...END);
  code.push(...get(CP), ...get(VS), ...[0x38, 0x02, 0x00]);
  code.push(...get(J), ...i32(1), ...ADD, ...set(J));
  code.push(...br(0), ...END, ...END);
  return code;
}

function gemmBody(): number[] {
  const code: number[] = [];
  // Byte strides: bstep = N·4, astep = aStride·4.
  code.push(...get(N), ...i32(2), ...SHL, ...set(BSTEP));
  code.push(...get(ASTEP), ...i32(2), ...SHL, ...set(ASTEP));
  code.push(...i32(0), ...set(R));
  code.push(...BLOCK, ...LOOP);
  code.push(...get(R), ...get(ROWS), ...GE_S, ...brIf(1));
  // arowp = A + r·aRowStride·4
  code.push(...get(A), ...get(R), ...get(AROW), ...MUL, ...i32(2), ...SHL, ...ADD, ...set(AROWP));
  code.push(...i32(0), ...set(J));
  code.push(...strip(16), ...strip(4), ...scalarStrip());
  code.push(...get(R), ...i32(1), ...ADD, ...set(R));
  code.push(...br(0), ...END, ...END);
  const locals = [3, ...uleb(I32_LOCALS), I32, ...uleb(V128_LOCALS), V128, 1, F32];
  const body = [...locals, ...code, ...END];
  return [...uleb(body.length), ...body];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

function moduleBytes(): Uint8Array {
  const type = section(1, [1, 0x60, PARAMS, ...new Array(PARAMS).fill(I32), 0]);
  const imports = section(2, [1, ...name("env"), ...name("memory"), 0x02, 0x00, 0x00]);
  const funcs = section(3, [1, 0]);
  const exports = section(7, [1, ...name("gemm"), 0x00, 0]);
  const code = section(10, [1, ...gemmBody()]);
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...type,
    ...imports,
    ...funcs,
    ...exports,
    ...code,
  ]);
}

type GemmFn = (
  a: number,
  b: number,
  c: number,
  rows: number,
  red: number,
  n: number,
  aRowStride: number,
  aStride: number,
  init: number,
  act: number,
  h: number,
) => void;

let compiled: object | null | undefined;

function compile(): object | null {
  if (compiled === undefined) {
    try {
      compiled = new Wasm.Module(moduleBytes());
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/**
 * Whether the WebAssembly GEMM computes a layer of N outputs with this epilogue itself: any linear
 * one, and tanh or ReLU (forward and derivative) when N is a multiple of 4 (the scalar strip of the
 * last N mod 4 columns is linear only). The rest runs in the JavaScript GEMM.
 */
export function wasmCovers(N: number, act: LayerActivation): boolean {
  return act === "linear" || N % 4 === 0;
}

/** The WebAssembly SIMD GEMM, or null where the runtime lacks WebAssembly SIMD. */
export function wasmGemm(): Gemm | null {
  const module = compile();
  if (module === null) return null;
  const instances = new WeakMap<ArrayBufferLike, GemmFn | null>();
  const fnFor = (...arrays: Float32Array[]): GemmFn | null => {
    const buffer = arrays[0].buffer;
    for (const a of arrays) if (a.buffer !== buffer) return null;
    let fn = instances.get(buffer);
    if (fn === undefined) {
      const memory = memoryOf(buffer);
      fn = memory ? (new Wasm.Instance(module, { env: { memory } }).exports.gemm as GemmFn) : null;
      instances.set(buffer, fn);
    }
    return fn;
  };
  return {
    name: "wasm-simd",
    dense(a, b, bias, c, M, K, N, act) {
      const fn = wasmCovers(N, act) ? fnFor(a, b, bias, c) : null;
      if (!fn) return jsGemm.dense(a, b, bias, c, M, K, N, act);
      fn(a.byteOffset, b.byteOffset, c.byteOffset, M, K, N, K, 1, bias.byteOffset, ACT_CODE[act], 0);
    },
    nnGrad(a, b, h, c, M, K, N, act) {
      const fn = wasmCovers(N, act) ? fnFor(a, b, h, c) : null;
      if (!fn) return jsGemm.nnGrad(a, b, h, c, M, K, N, act);
      const code = act === "tanh" ? ACT_CODE.tanhGrad : ACT_CODE.reluGrad;
      fn(a.byteOffset, b.byteOffset, c.byteOffset, M, K, N, K, 1, -1, code, h.byteOffset);
    },
    tn(a, b, c, M, K, N) {
      const fn = fnFor(a, b, c);
      if (!fn) return jsGemm.tn(a, b, c, M, K, N);
      fn(a.byteOffset, b.byteOffset, c.byteOffset, K, M, N, 1, K, -1, 0, 0);
    },
  };
}
