"""Records reference data for the MuJoCo environments from Python Gymnasium (and `mujoco`) itself.

The TypeScript fidelity tests (test/rl/envs-mujoco.test.ts) compare Proxima's MuJoCo envs against
what this script writes; they never compare against a transcription of Gymnasium's code.

Not run by CI (CI has no Python). Record (or re-record after upgrading Gymnasium, MuJoCo or NumPy):

    .venv-ref/bin/pip install --index-url file:///opt/pypi/simple \
        --extra-index-url file:///opt/pypi-more/simple gymnasium==1.3.0 mujoco numpy
    .venv-ref/bin/python scripts/reference/record_mujoco.py                 # the default envs
    .venv-ref/bin/python scripts/reference/record_mujoco.py Ant-v5 Reacher-v5

Writes test/rl/fixtures/reference/mujoco/<env id>.json.gz, each:

- the env's facts: frame skip, dt, nq, nv, observation size, action bounds, TimeLimit and
  reward_threshold (from `gymnasium.make`'s spec);
- `resets`: `reset(seed=s)` for several seeds: qpos, qvel, the observation and the reset info;
- `steps`: single steps. States are reached by running varied policies (random within the bounds,
  zero, saturated at the bounds, beyond the bounds — MuJoCo clamps those —, and per env ones such as
  a balancing controller and falls that terminate), a few states taken from each run (the last ones
  before a termination included). Each is then stepped from a clean condition that (qpos, qvel) alone
  determines: `reset(seed=0)` (mj_resetData: time 0, no solver warm start), `set_state(qpos, qvel)`,
  `step(action)`, with the action as a float32 array, a float64 array or a Python list in turn (NumPy
  2 computes the control cost in the action's precision). Recorded: obs, reward, the info (reward terms
  with Gymnasium's keys), terminated, truncated, and the state after;
- `episodes`: whole episodes through `gymnasium.make` from `reset(seed)` under a recorded action
  sequence (300 steps, or 100 to 300 up to a termination for a falling policy): the observation and
  reward of every step (see EPISODES for the policies and the "chaotic" mark). Reacher's episodes run
  under a TimeLimit of 300 instead of its 50 (`maxEpisodeSteps` in the episode, EPISODE_TIME_LIMIT).

Observations are Gymnasium's float64 values; the env here returns float32, the tests say how close.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import gymnasium as gym
import mujoco
import numpy as np

assert gym.__version__ == "1.3.0", f"record with gymnasium 1.3.0, not {gym.__version__}"
assert np.__version__.startswith("2."), "Gymnasium 1.3 runs on NumPy 2 (NEP 50 promotion)"

OUT = Path(__file__).resolve().parents[2] / "test" / "rl" / "fixtures" / "reference" / "mujoco"
DEFAULT_ENVS = [
    "HalfCheetah-v5",
    "Hopper-v5",
    "Walker2d-v5",
    "Swimmer-v5",
    "InvertedPendulum-v5",
    "InvertedDoublePendulum-v5",
    "Reacher-v5",
    "Ant-v5",
    "Humanoid-v5",
]
RESET_SEEDS = [0, 1, 7, 42, 123, 65536, 2**32 - 1, 2**40 + 5, 2**53 - 1]
EPISODE_STEPS = 300
STATES_PER_RUN = 12
RUN_STEPS = 160
ACTION_KINDS = ("float32", "float64", "list")


def f(x) -> float:
    """A JSON number that parses back to the same float64 (Python's repr is shortest round-trip)."""
    return float(x)


def floats(a) -> list[float]:
    return [f(v) for v in np.asarray(a).ravel()]


def info_json(info: dict) -> dict:
    # Humanoid's tendon_length and tendon_velocity are arrays.
    return {k: f(v) if np.ndim(v) == 0 else floats(v) for k, v in info.items()}


# ---- Policies: (env, obs, rng) -> float32 action -------------------------------------------------


def uniform(scale=1.0):
    def policy(env, obs, rng):
        low, high = env.action_space.low, env.action_space.high
        return rng.uniform(low * scale, high * scale).astype(np.float32)

    return policy


def zero(env, obs, rng):
    return np.zeros(env.action_space.shape, dtype=np.float32)


def saturated(env, obs, rng):
    low, high = env.action_space.low, env.action_space.high
    return np.where(rng.random(low.shape) < 0.5, low, high).astype(np.float32)


def joint_pd(noise):
    """Holds the actuated hinge joints (qpos[3:]) near 0 with noise: keeps Hopper and Walker2d up."""

    def policy(env, obs, rng):
        d = env.unwrapped.data
        q, v = d.qpos[3:], d.qvel[3:]
        a = -2.0 * q - 0.2 * v + rng.uniform(-noise, noise, size=q.shape)
        return np.clip(a, -1, 1).astype(np.float32)

    return policy


def lqr_gain(env, q_weight=1.0, r_weight=0.1, eps=1e-6):
    """An LQR gain about the upright state (init_qpos, 0) of the cart-poles, from central differences
    of one env step on a separate MjData (mjd_transitionFD does not support RK4)."""
    u = env.unwrapped
    m = u.model
    d = mujoco.MjData(m)
    nv, nu = m.nv, m.nu

    def step(x, ctrl):
        mujoco.mj_resetData(m, d)
        d.qpos[:] = u.init_qpos + x[:nv]
        d.qvel[:] = x[nv:]
        d.ctrl[:] = ctrl
        mujoco.mj_step(m, d, nstep=u.frame_skip)
        return np.concatenate([d.qpos - u.init_qpos, d.qvel])

    x0, u0 = np.zeros(2 * nv), np.zeros(nu)
    a = np.stack([(step(x0 + eps * e, u0) - step(x0 - eps * e, u0)) / (2 * eps) for e in np.eye(2 * nv)], axis=1)
    b = np.stack([(step(x0, u0 + eps * e) - step(x0, u0 - eps * e)) / (2 * eps) for e in np.eye(nu)], axis=1)
    q, r, p = q_weight * np.eye(2 * nv), r_weight * np.eye(nu), q_weight * np.eye(2 * nv)
    for _ in range(5000):  # the discrete Riccati recursion, to its fixed point
        k = np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
        p = q + a.T @ p @ (a - b @ k)
    return k


def lqr_balance(noise):
    """Keeps InvertedPendulum's and InvertedDoublePendulum's poles up (LQR) with noise."""
    gains = {}

    def policy(env, obs, rng):
        u = env.unwrapped
        if id(u) not in gains:
            gains[id(u)] = lqr_gain(env)
        x = np.concatenate([u.data.qpos - u.init_qpos, u.data.qvel])
        a = -gains[id(u)] @ x + rng.uniform(-noise, noise, size=u.model.nu)
        return np.clip(a, env.action_space.low, env.action_space.high).astype(np.float32)

    return policy


def posture_pd(kp, kd, noise):
    """Holds each actuated joint near its initial angle with noise: Humanoid stands for a while."""

    def policy(env, obs, rng):
        u = env.unwrapped
        m, d = u.model, u.data
        joints = m.actuator_trnid[:, 0]
        q = d.qpos[m.jnt_qposadr[joints]] - u.init_qpos[m.jnt_qposadr[joints]]
        v = d.qvel[m.jnt_dofadr[joints]]
        a = -(kp * q + kd * v) + rng.uniform(-noise, noise, size=m.nu)
        return np.clip(a, env.action_space.low, env.action_space.high).astype(np.float32)

    return policy


COMMON_POLICIES = [
    ("random", uniform()),
    ("zero", zero),
    ("saturated", saturated),
    ("beyond-bounds", uniform(3.0)),
]
EXTRA_POLICIES = {
    "Hopper-v5": [("balance", joint_pd(0.3))],
    "Walker2d-v5": [("balance", joint_pd(0.1))],
    "InvertedPendulum-v5": [("balance", lqr_balance(0.5))],
    "InvertedDoublePendulum-v5": [("balance", lqr_balance(0.1))],
    "Humanoid-v5": [("posture", posture_pd(0.5, 0.05, 0.05))],
}
# Whole episodes per env: (name, policy, what is wanted: "full" = EPISODE_STEPS steps, "fall" = a
# termination after 100 to EPISODE_STEPS steps, "chaotic" = like "full", marked as such). The first
# seed from 0 that gives it is recorded. "chaotic" episodes go through contact dynamics that amplify
# any difference (the cheetah bouncing under actions at and beyond the bounds): two MuJoCo versions
# agree there only as long as their solvers' stopping points (within the same tolerance) do not matter,
# so the test reports how long they agree rather than asserting all of it.
EPISODES = {
    "HalfCheetah-v5": [("random-0.5", uniform(0.5), "full"), ("random-1.2", uniform(1.2), "chaotic")],
    "Hopper-v5": [("balance", joint_pd(0.3), "full"), ("zero", zero, "fall")],
    "Walker2d-v5": [("balance", joint_pd(0.1), "fall")],
    "Swimmer-v5": [("random-1.2", uniform(1.2), "full")],
    "InvertedPendulum-v5": [("balance", lqr_balance(0.5), "full")],
    # Replayed open-loop, the upright double pendulum amplifies a last-bit difference e-fold every
    # ~0.1 s: agreement lasts until the engines first round differently, then ~60 steps.
    "InvertedDoublePendulum-v5": [("balance", lqr_balance(0.01), "chaotic")],
    "Reacher-v5": [("random-1.2", uniform(1.2), "full")],
    "Ant-v5": [("random-0.1", uniform(0.1), "full"), ("random-0.5", uniform(0.5), "chaotic")],
    "Humanoid-v5": [("posture", posture_pd(0.5, 0.05, 0.05), "fall")],
}
# Episodes recorded under a longer TimeLimit than the registered one (`gymnasium.make(id,
# max_episode_steps=...)`), for envs whose registered limit is shorter than EPISODE_STEPS: Reacher's 50.
EPISODE_TIME_LIMIT = {"Reacher-v5": EPISODE_STEPS}


def make_action(a: np.ndarray, kind: str):
    if kind == "float32":
        return np.asarray(a, dtype=np.float32)
    if kind == "float64":
        return np.asarray(a, dtype=np.float64)
    return [float(v) for v in a]


# ---- Recording --------------------------------------------------------------------------------------


def facts(env) -> dict:
    u = env.unwrapped
    return {
        "frameSkip": u.frame_skip,
        "dt": f(u.dt),
        "nq": int(u.model.nq),
        "nv": int(u.model.nv),
        "observationDim": int(env.observation_space.shape[0]),
        "actionLow": floats(env.action_space.low),
        "actionHigh": floats(env.action_space.high),
        "maxEpisodeSteps": env.spec.max_episode_steps,
        "rewardThreshold": env.spec.reward_threshold,
    }


def record_resets(env) -> list[dict]:
    out = []
    for seed in RESET_SEEDS:
        obs, info = env.reset(seed=seed)
        d = env.unwrapped.data
        out.append(
            {"seed": seed, "qpos": floats(d.qpos), "qvel": floats(d.qvel), "obs": floats(obs), "info": info_json(info)}
        )
    return out


def visited_states(env, policy, seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(qpos, qvel, action) before some steps of a run: spread over the run, and the last two before
    its end (a termination, for the envs that can fall)."""
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed + 1000)
    run = []
    for _ in range(RUN_STEPS):
        d = env.unwrapped.data
        action = policy(env, obs, rng)
        run.append((d.qpos.copy(), d.qvel.copy(), action))
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    picks = sorted({*np.linspace(0, len(run) - 1, STATES_PER_RUN - 2).astype(int), len(run) - 2, len(run) - 1})
    return [run[i] for i in picks if i >= 0]


def record_steps(env, env_id: str) -> list[dict]:
    out = []
    policies = COMMON_POLICIES + EXTRA_POLICIES.get(env_id, [])
    for p, (name, policy) in enumerate(policies):
        for k, (qpos, qvel, action) in enumerate(visited_states(env, policy, seed=10 + p)):
            kind = ACTION_KINDS[(p + k) % len(ACTION_KINDS)]
            env.reset(seed=0)
            env.unwrapped.set_state(qpos, qvel)
            obs, reward, terminated, truncated, info = env.step(make_action(action, kind))
            d = env.unwrapped.data
            out.append(
                {
                    "policy": name,
                    "qpos": floats(qpos),
                    "qvel": floats(qvel),
                    "action": floats(action),
                    "actionKind": kind,
                    "obs": floats(obs),
                    "reward": f(reward),
                    "info": info_json(info),
                    "terminated": bool(terminated),
                    "truncated": bool(truncated),
                    "qposAfter": floats(d.qpos),
                    "qvelAfter": floats(d.qvel),
                }
            )
    return out


def record_episode(env, name: str, policy, seed: int, steps: int) -> dict:
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed + 2000)
    initial = floats(obs)
    actions, observations, rewards = [], [], []
    terminated = truncated = False
    while len(actions) < steps and not (terminated or truncated):
        action = policy(env, obs, rng)
        obs, reward, terminated, truncated, _ = env.step(action)
        actions.append(floats(action))
        observations.append(floats(obs))
        rewards.append(f(reward))
    return {
        "policy": name,
        "seed": seed,
        "initialObs": initial,
        "actions": actions,
        "obs": observations,
        "rewards": rewards,
        "terminated": bool(terminated),
        "truncated": bool(truncated),
    }


def first_episode(env, name: str, policy, wanted: str) -> dict:
    """The first seed from 0 whose episode has the wanted shape (see EPISODES)."""
    for seed in range(50):
        ep = record_episode(env, name, policy, seed, EPISODE_STEPS)
        n = len(ep["actions"])
        if (wanted == "fall") == ep["terminated"] and (n == EPISODE_STEPS or (wanted == "fall" and n >= 100)):
            return {**ep, "chaotic": wanted == "chaotic"}
    raise RuntimeError(f"no seed gives a {wanted} episode for {name}")


def record_env(env_id: str) -> dict:
    env = gym.make(env_id)
    wanted = EPISODES.get(env_id, [("random", uniform(), "full")])
    limit = EPISODE_TIME_LIMIT.get(env_id)
    episode_env = env if limit is None else gym.make(env_id, max_episode_steps=limit)
    limited = {} if limit is None else {"maxEpisodeSteps": limit}
    return {
        "envId": env_id,
        "gymnasium": gym.__version__,
        "mujoco": mujoco.__version__,
        "numpy": np.__version__,
        **facts(env),
        "resets": record_resets(env),
        "steps": record_steps(env, env_id),
        "episodes": [{**first_episode(episode_env, name, policy, w), **limited} for name, policy, w in wanted],
    }


def main(argv: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for env_id in argv or DEFAULT_ENVS:
        ref = record_env(env_id)
        path = OUT / f"{env_id}.json.gz"
        data = json.dumps(ref, separators=(",", ":")).encode()
        path.write_bytes(gzip.compress(data, mtime=0))
        lengths = [len(e["actions"]) for e in ref["episodes"]]
        print(f"{path.name}: {len(ref['steps'])} steps, episodes of {lengths} steps, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
