"""Records Gymnasium's generator, `np.random.Generator(PCG64(SeedSequence(seed)))`, from NumPy itself.

test/rl/numpy-random.test.ts compares rl/core/numpy-random.ts against what this script writes to
test/rl/fixtures/reference/numpy-random.json. Not run by CI (CI has no Python). Re-record after
upgrading NumPy:

    .venv-ref/bin/python scripts/reference/record_numpy_random.py
    npx biome format --write test/rl/fixtures/reference/numpy-random.json   # the repo's JSON style

The fixture holds, for each seed in SEEDS: the SeedSequence pool, the PCG64 state and raw outputs, and
`uniform`, `random` and `standard_normal` draws; `scalarCalls`: `standard_normal()` called one at a
time, which this script first checks equals `standard_normal(n)` (NumPy fills arrays with
`random_standard_normal_fill`, one draw after another); `interleaved`: the `uniform` then
`standard_normal` reset noise of Gymnasium's MuJoCo envs, several resets on one generator; `stream`:
a long `standard_normal` stream, as its first values in full, SHA-256 digests of its float64 bytes
(little-endian) per block and in all, and every draw beyond 3.6 in magnitude with its index (the
ziggurat's tail starts at r = 3.654…, and only tail draws go through `log1p`).

    .venv-ref/bin/python scripts/reference/record_numpy_random.py --dump N PREFIX
    npx tsx scripts/reference/numpy-normal-agreement.ts PREFIX

writes instead, for an agreement count on a sample too large to commit: N `standard_normal` draws of
the stream's seed (PREFIX.normal.f8), and glibc's `exp` and `log1p` (through ctypes: the functions
distributions.c calls) at N arguments each from the ranges the ziggurat gives them (PREFIX.exp.f8,
PREFIX.log1p.f8, argument/value pairs), all raw little-endian float64; the second command compares
them with rl/core/numpy-random.ts and V8's Math.exp / Math.log1p.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from gymnasium.utils import seeding

assert np.__version__.startswith("2."), "Gymnasium 1.3 runs on NumPy 2"

OUT = Path(__file__).resolve().parents[2] / "test" / "rl" / "fixtures" / "reference" / "numpy-random.json"
SEEDS = [0, 1, 42, 2**32 - 1, 2**32, 2**32 + 5, 2**53 - 1]
STREAM_SEED = 20240607
STREAM_DRAWS = 100_000
STREAM_HEAD = 2_000
STREAM_BLOCK = 1_000
LARGE = 3.6
# Reset noise as Gymnasium 1.3's MuJoCo envs draw it (`_reset_noise_scale` times the draws, added to
# init_qpos / init_qvel; gymnasium/envs/mujoco/*_v5.py `reset_model`): qpos from `uniform(-scale,
# scale, nq)`, then qvel from `standard_normal(nv)`. (name, nq, nv, scale).
RESET_PATTERNS = [
    ("HalfCheetah-v5", 9, 9, 0.1),
    ("Ant-v5", 15, 14, 0.1),
    ("InvertedDoublePendulum-v5", 3, 3, 0.1),
]


def f(x) -> float:
    """A JSON number that parses back to the same float64 (Python's repr is shortest round-trip)."""
    return float(x)


def floats(xs) -> list[float]:
    return [f(x) for x in np.asarray(xs).ravel()]


def le_bytes(xs: np.ndarray) -> bytes:
    return np.ascontiguousarray(xs, dtype="<f8").tobytes()


def record_case(seed: int) -> dict:
    ss = np.random.SeedSequence(seed)
    rng, _ = seeding.np_random(seed)
    bg = np.random.PCG64(np.random.SeedSequence(seed))
    normal_rng, _ = seeding.np_random(seed)
    return {
        "seed": seed,
        "pool": [int(w) for w in ss.pool],
        "state128": {k: str(v) for k, v in bg.state["state"].items()},
        "uint64": [str(int(x)) for x in bg.random_raw(8)],
        "uniform": floats(rng.uniform(-0.05, 0.05, size=(6,))),
        "random": floats(rng.random(4)),
        "standardNormal": floats(normal_rng.standard_normal(32)),
    }


def record_scalar_calls(seed: int, n: int) -> dict:
    g = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    one_by_one = np.array([g.standard_normal() for _ in range(n)])
    filled = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed))).standard_normal(n)
    assert le_bytes(one_by_one) == le_bytes(filled), "standard_normal(n) is not n scalar draws"
    return {"seed": seed, "draws": floats(one_by_one)}


def record_interleaved(seed: int, resets: int) -> list[dict]:
    """Each op: the call (`uniform` with its bounds, or `standard_normal`), its size, and its draws."""
    out = []
    for name, nq, nv, scale in RESET_PATTERNS:
        rng, _ = seeding.np_random(seed)
        ops = []
        for _ in range(resets):
            ops.append({"op": "uniform", "low": -scale, "high": scale, "draws": floats(rng.uniform(-scale, scale, nq))})
            ops.append({"op": "standard_normal", "draws": floats(rng.standard_normal(nv))})
        out.append({"pattern": name, "seed": seed, "ops": ops})
    return out


def record_stream() -> dict:
    rng, _ = seeding.np_random(STREAM_SEED)
    xs = rng.standard_normal(STREAM_DRAWS)
    blocks = [hashlib.sha256(le_bytes(xs[i : i + STREAM_BLOCK])).hexdigest()[:16] for i in range(0, STREAM_DRAWS, STREAM_BLOCK)]
    large = [[int(i), f(xs[i])] for i in np.flatnonzero(np.abs(xs) > LARGE)]
    return {
        "seed": STREAM_SEED,
        "draws": STREAM_DRAWS,
        "head": floats(xs[:STREAM_HEAD]),
        "blockSize": STREAM_BLOCK,
        "blockSha256": blocks,
        "sha256": hashlib.sha256(le_bytes(xs)).hexdigest(),
        "largeAbove": LARGE,
        "large": large,
    }


def record() -> dict:
    return {
        "numpy": np.__version__,
        "cases": [record_case(s) for s in SEEDS],
        "scalarCalls": record_scalar_calls(3, 64),
        "interleaved": [r for s in (0, 7, 2**40 + 3) for r in record_interleaved(s, 3)],
        "stream": record_stream(),
    }


def dump(n: int, prefix: Path) -> None:
    """N stream draws, and glibc's exp and log1p at N arguments each; raw little-endian float64 files."""
    rng, _ = seeding.np_random(STREAM_SEED)
    Path(f"{prefix}.normal.f8").write_bytes(le_bytes(rng.standard_normal(n)))
    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    args = np.random.default_rng(7)
    # The arguments distributions.c passes: exp(-0.5 x^2) in a wedge (|x| < r = 3.654…), and
    # log1p(-u) for u = next_double, 53-bit multiples of 2^-53 in [0, 1).
    domains = {
        "exp": -0.5 * args.uniform(0, 3.6541528853610088, n) ** 2,
        "log1p": -(args.integers(0, 2**53, n) * 2.0**-53),
    }
    for name, xs in domains.items():
        fn = getattr(libm, name)
        fn.restype = ctypes.c_double
        fn.argtypes = [ctypes.c_double]
        pairs = np.empty(2 * n)
        pairs[0::2] = xs
        pairs[1::2] = [fn(float(x)) for x in xs]
        Path(f"{prefix}.{name}.f8").write_bytes(le_bytes(pairs))
    Path(f"{prefix}.json").write_text(json.dumps({"seed": STREAM_SEED, "draws": n, "numpy": np.__version__}))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--dump":
        dump(int(sys.argv[2]), Path(sys.argv[3]))
        return
    data = record()
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    stream = data["stream"]
    print(
        f"{len(data['cases'])} seeds; stream of {stream['draws']} draws, {len(stream['large'])} beyond {LARGE}"
        f" -> {OUT.relative_to(OUT.parents[4])}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
