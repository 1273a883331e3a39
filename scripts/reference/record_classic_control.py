"""Records reference data for the classic-control environments from Python Gymnasium itself.

The TypeScript fidelity tests (test/rl/envs-reference.test.ts) compare
Proxima's ports against what this script writes; they never compare against a transcription of
Gymnasium's code (a transcription repeats the port's misreadings: the hand-written Acrobot reference
that preceded this script carried the port's own error in `_dsdt`).

Not run by CI (CI has no Python). Re-record after upgrading Gymnasium or NumPy:

    python3 -m venv .venv-ref
    .venv-ref/bin/pip install --index-url file:///opt/pypi/simple \
        --extra-index-url file:///opt/pypi-more/simple gymnasium==1.3.0 numpy
    .venv-ref/bin/python scripts/reference/record_classic_control.py

Writes test/rl/fixtures/reference/<env id>.json.gz (the generator's raw draws, numpy-random.json, come
from scripts/reference/record_numpy_random.py). For each env:

- `resets`: `reset(seed=s)` for seeds from 0 to 2**53 - 1: the observation and `unwrapped.state`;
- `vectorReset`: `gymnasium.make_vec(id, 3, "sync").reset(seed=5)`, whose sub-env i is seeded 5 + i;
- `episodes`: whole episodes through `gymnasium.make` (TimeLimit included) from a seeded reset, each
  followed by an episode from an unseeded reset (the generator continues), under several policies
  chosen to reach every way a step can end: terminations, truncations, walls, velocity bounds and
  (for Box actions) actions outside the bounds. Each step records the state before it (and its NumPy
  dtype, which matters for MountainCarContinuous), the action, and what `step` returned.
"""

from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

assert gym.__version__ == "1.3.0", f"record with gymnasium 1.3.0, not {gym.__version__}"
assert np.__version__.startswith("2."), "Gymnasium 1.3 runs on NumPy 2 (NEP 50 promotion)"

OUT = Path(__file__).resolve().parents[2] / "test" / "rl" / "fixtures" / "reference"
RESET_SEEDS = [0, 1, 2, 3, 7, 9, 42, 123, 4095, 65536, 2**31 - 1, 2**32 - 1, 2**32, 2**40 + 5, 2**53 - 1]


def f(x) -> float:
    """A JSON number that parses back to the same float64 (Python's repr is shortest round-trip)."""
    return float(x)


def state_of(env) -> tuple[list[float], str]:
    s = np.asarray(env.unwrapped.state)
    return [f(v) for v in s.ravel()], str(s.dtype)


# ---- Policies: each takes (obs, rng) and returns an action for the env. -------------------------


def discrete_random(n):
    return lambda obs, rng: int(rng.integers(n))


def cartpole_balance(obs, rng):
    # A PD rule on the pole: keeps it up long enough to reach the 500-step truncation or drift to a wall.
    return int(obs[2] + 0.5 * obs[3] > 0)


def cartpole_drift(obs, rng):
    # Balances while biased to the right, so the cart leaves through x > 2.4.
    return int(obs[2] + 0.5 * obs[3] + 0.02 > 0)


def mountaincar_pump(obs, rng):
    # Push along the velocity: pumps energy and reaches the goal (termination).
    return 2 if obs[1] >= 0 else 0


def mcc_pump(obs, rng):
    return np.array([1.0 if obs[1] >= 0 else -1.0], dtype=np.float32)


def box_random(low, high):
    return lambda obs, rng: rng.uniform(low, high, size=(1,)).astype(np.float32)


def box_const(value):
    return lambda obs, rng: np.array([value], dtype=np.float32)


def pendulum_pump(obs, rng):
    # Torque along the angular velocity: swings up, spins, and meets the speed bound of 8.
    return np.array([2.0 if obs[2] >= 0 else -2.0], dtype=np.float32)


def acrobot_pump(obs, rng):
    # Torque along the second link's velocity: pumps energy and reaches the terminal height.
    return 2 if obs[5] >= 0 else 0


def acrobot_counter(obs, rng):
    # Torque against the first link's velocity: another way up, with faster links.
    return 0 if obs[4] >= 0 else 2


POLICIES = {
    "CartPole-v1": [
        ("random", discrete_random(2)),
        ("always-left", lambda o, r: 0),
        ("balance", cartpole_balance),
        ("drift-right", cartpole_drift),
    ],
    "MountainCar-v0": [
        ("random", discrete_random(3)),
        ("pump", mountaincar_pump),
        ("always-left", lambda o, r: 0),
    ],
    "MountainCarContinuous-v0": [
        ("random-beyond-bounds", box_random(-1.5, 1.5)),
        ("pump", mcc_pump),
        ("full-left", box_const(-1.0)),
        ("small", box_random(-0.05, 0.05)),
    ],
    "Pendulum-v1": [
        ("random-beyond-bounds", box_random(-3.0, 3.0)),
        ("pump", pendulum_pump),
        ("full-torque", box_const(2.0)),
    ],
    "Acrobot-v1": [
        ("random", discrete_random(3)),
        ("pump", acrobot_pump),
        ("counter", acrobot_counter),
        ("always-positive", lambda o, r: 2),
    ],
}

# States written into `unwrapped.state` (as `env.unwrapped.state = np.array(...)`, float64) and
# stepped once under each action, around the edges the policies rarely reach: walls, velocity
# bounds, the goal, angles near ±π, actions beyond the bounds. Each base state is also jittered.
EDGE_STATES = {
    "CartPole-v1": [[2.39, 1.5, 0.0, 0.0], [-2.39, -1.5, 0.1, -0.5], [0.0, 0.0, 0.2094, 0.5], [0.0, 0.0, -0.2, -1.0]],
    "MountainCar-v0": [[-1.19, -0.07], [-1.2, -0.01], [0.49, 0.07], [0.44, 0.069], [-0.5, 0.0699]],
    "MountainCarContinuous-v0": [[-1.19, -0.07], [-1.2, -0.01], [0.44, 0.069], [0.449, 0.001], [-0.5, 0.0699]],
    "Pendulum-v1": [[0.0, 7.9], [3.1, -7.95], [-3.14159, 0.0], [12.0, 8.0], [-7.0, -8.0]],
    "Acrobot-v1": [
        [3.1, -3.1, 12.5, 28.2],
        [-3.1, 3.1, -12.5, -28.2],
        [0.0, 0.0, 12.56, 0.0],
        [3.14, 0.0, 0.0, 0.0],
        [2.0, 1.0, 3.0, -4.0],
    ],
}
EDGE_ACTIONS = {
    "CartPole-v1": [0, 1],
    "MountainCar-v0": [0, 1, 2],
    "MountainCarContinuous-v0": [[-1.0], [1.0], [0.3], [-2.5], [2.5]],
    "Pendulum-v1": [[-2.0], [2.0], [0.7], [-5.0], [5.0]],
    "Acrobot-v1": [0, 1, 2],
}


def edge_actions(env_id):
    """Discrete actions as ints; Box actions as a float32 array, a float64 array and a Python list
    (NumPy 2 promotes each differently inside `step`)."""
    for a in EDGE_ACTIONS[env_id]:
        if isinstance(a, list):
            for kind in ("float32", "float64", "list"):
                yield a, kind
        else:
            yield a, "int"


def make_action(a, kind):
    if kind == "float32":
        return np.array(a, dtype=np.float32)
    if kind == "float64":
        return np.array(a, dtype=np.float64)
    if kind == "list":
        return [float(v) for v in a]
    return a


def action_json(a):
    if isinstance(a, np.ndarray):
        return [f(v) for v in a]
    return int(a)


def record_episode(env, seed, policy, rng, cap):
    obs, _ = env.reset(seed=seed)
    steps = []
    initial = [f(v) for v in obs]
    while True:
        state, dtype = state_of(env)
        action = policy(obs, rng)
        obs, reward, terminated, truncated, _ = env.step(action)
        steps.append(
            {
                "state": state,
                "dtype": dtype,
                "action": action_json(action),
                "obs": [f(v) for v in obs],
                "reward": f(reward),
                "terminated": bool(terminated),
                "truncated": bool(truncated),
            }
        )
        if terminated or truncated or len(steps) >= cap:
            break
    return {"seed": seed, "initialObs": initial, "steps": steps}


def record_env(env_id: str) -> dict:
    env = gym.make(env_id)
    resets = []
    for seed in RESET_SEEDS:
        obs, _ = env.reset(seed=seed)
        state, dtype = state_of(env)
        resets.append({"seed": seed, "obs": [f(v) for v in obs], "state": state})

    venv = gym.make_vec(env_id, num_envs=3, vectorization_mode="sync")
    vobs, _ = venv.reset(seed=5)
    vector_reset = {"seed": 5, "numEnvs": 3, "obs": [[f(v) for v in row] for row in vobs]}
    venv.close()

    edges = []
    jitter = np.random.default_rng(7)
    for base in EDGE_STATES[env_id]:
        for j in range(6):
            state = np.array(base, dtype=np.float64)
            if j > 0:
                state = state * (1 + jitter.uniform(-0.01, 0.01, size=state.shape))
            for a, kind in edge_actions(env_id):
                env.reset(seed=0)
                env.unwrapped.state = state.copy()
                action = make_action(a, kind)
                obs, reward, terminated, truncated, _ = env.step(action)
                after, dtype = state_of(env)
                edges.append(
                    {
                        "state": [f(v) for v in state],
                        "action": action_json(action) if kind != "list" else [f(v) for v in a],
                        "actionKind": kind,
                        "obs": [f(v) for v in obs],
                        "stateAfter": after,
                        "reward": f(reward),
                        "terminated": bool(terminated),
                    }
                )

    episodes = []
    cap = 10_000
    for k, (name, policy) in enumerate(POLICIES[env_id]):
        rng = np.random.default_rng(1000 + k)  # the policies' own randomness, not the env's
        seed = 100 + k
        first = record_episode(env, seed, policy, rng, cap)
        second = record_episode(env, None, policy, rng, cap)
        episodes.append({"policy": name, "episodes": [first, second]})
    env.close()
    return {
        "envId": env_id,
        "gymnasium": gym.__version__,
        "numpy": np.__version__,
        "maxEpisodeSteps": env.spec.max_episode_steps,
        "resets": resets,
        "vectorReset": vector_reset,
        "edges": edges,
        "policies": episodes,
    }


def summarize(data: dict) -> str:
    n = sum(len(e["steps"]) for p in data["policies"] for e in p["episodes"])
    term = sum(s["terminated"] for p in data["policies"] for e in p["episodes"] for s in e["steps"])
    trunc = sum(s["truncated"] for p in data["policies"] for e in p["episodes"] for s in e["steps"])
    return (
        f"{data['envId']}: {n} transitions in episodes ({term} terminations, {trunc} truncations), "
        f"{len(data['edges'])} edge transitions"
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for env_id in POLICIES:
        data = record_env(env_id)
        path = OUT / f"{env_id}.json.gz"
        # mtime=0 keeps the bytes identical from one recording to the next.
        with gzip.GzipFile(path, "wb", mtime=0) as fh:
            fh.write(json.dumps(data, separators=(",", ":")).encode())
        print(summarize(data), "->", path.relative_to(OUT.parents[3]), file=sys.stderr)


if __name__ == "__main__":
    main()
