"""Records observation/reward normalisation reference data from Stable-Baselines3 and Gymnasium.

test/rl/normalize.test.ts compares Proxima's normaliser (rl/ppo/normalize.ts) against what this script
writes, so that the reference is the upstream code itself, never a transcription:

- SB3's `RunningMeanStd` (stable_baselines3/common/running_mean_std.py): `update` on batches of
  varied sizes, and `combine` of two running moments;
- SB3's `VecNormalize` (stable_baselines3/common/vec_env/vec_normalize.py) around a `DummyVecEnv` of
  real Gymnasium envs under random actions: CartPole-v1 (4 envs, time limit 30, so that episodes end
  by termination and by truncation) and Pendulum-v1 (2 envs, time limit 50, γ = 0.9): every step's
  raw observations, rewards, dones and terminal observations (tapped below VecNormalize), what
  VecNormalize returned, and its statistics; the last steps with `training = False` (frozen);
- Gymnasium 1.3's NormalizeObservation / NormalizeReward as CleanRL's `ppo_continuous_action.py`
  stacks them (with the clipping TransformObservation / TransformReward) on one CartPole-v1 env of
  time limit 15, reset by hand at each episode end (same-step auto-reset).

Not run by CI (CI has no Python). Re-record after upgrading SB3, Gymnasium or NumPy:

    .venv-ref/bin/pip install --index-url file:///opt/pypi/simple \
        --extra-index-url file:///opt/pypi-more/simple torch
    # SB3 from a source checkout (e.g. the DLR-RM/stable-baselines3 repository), without its deps:
    .venv-ref/bin/pip install --no-deps --no-build-isolation <path to the checkout>
    .venv-ref/bin/python scripts/reference/record_normalize.py

Writes test/rl/fixtures/reference/normalize.json.gz.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import stable_baselines3
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnvWrapper, VecNormalize

OUT = Path(__file__).resolve().parents[2] / "test/rl/fixtures/reference/normalize.json.gz"


def flat(a) -> list[float]:
    return [float(x) for x in np.asarray(a, dtype=np.float64).ravel()]


def rms_state(rms) -> dict:
    return {"mean": flat(rms.mean), "var": flat(rms.var), "count": float(rms.count)}


def record_running_mean_std() -> dict:
    rng = np.random.default_rng(7)
    rms = RunningMeanStd(shape=(3,))
    updates = []
    for n in [1, 5, 2, 17, 1, 64, 3]:
        batch = rng.normal(loc=[1.0, -20.0, 0.001], scale=[0.5, 8.0, 1e-4], size=(n, 3))
        rms.update(batch)
        updates.append({"batch": flat(batch), "rows": n, "after": rms_state(rms)})
    other = RunningMeanStd(shape=(3,))
    other.update(rng.normal(size=(9, 3)))
    combined = rms.copy()
    combined.combine(other)
    return {
        "dim": 3,
        "updates": updates,
        "combine": {"a": rms_state(rms), "b": rms_state(other), "after": rms_state(combined)},
    }


class Tap(VecEnvWrapper):
    """Keeps a copy of what the wrapped VecEnv returned, before VecNormalize rewrites anything."""

    def reset(self):
        obs = self.venv.reset()
        self.last_reset = obs.copy()
        return obs

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        terminal = np.zeros_like(obs)
        truncated = np.zeros(len(dones), dtype=bool)
        for i, done in enumerate(dones):
            if done:
                terminal[i] = infos[i]["terminal_observation"]
                truncated[i] = infos[i].get("TimeLimit.truncated", False)
        self.last = {
            "obs": obs.copy(),
            "rewards": rewards.copy(),
            "dones": dones.copy(),
            "truncated": truncated,
            "terminal": terminal,
        }
        return obs, rewards, dones, infos


def record_vec_normalize(env_id: str, num_envs: int, limit: int, gamma: float, steps: int, frozen: int) -> dict:
    venv = DummyVecEnv([lambda: gym.make(env_id, max_episode_steps=limit) for _ in range(num_envs)])
    venv.seed(11)
    venv.action_space.seed(3)
    tap = Tap(venv)
    norm = VecNormalize(tap, gamma=gamma)
    reset_norm = norm.reset()
    out = {
        "envId": env_id,
        "numEnvs": num_envs,
        "obsDim": int(venv.observation_space.shape[0]),
        "gamma": gamma,
        "clipObs": norm.clip_obs,
        "clipReward": norm.clip_reward,
        "epsilon": norm.epsilon,
        "reset": {"raw": flat(tap.last_reset), "norm": flat(reset_norm), "obsRms": rms_state(norm.obs_rms)},
        "steps": [],
    }
    for t in range(steps + frozen):
        if t == steps:
            norm.training = False
        actions = np.array([venv.action_space.sample() for _ in range(num_envs)])
        obs, rewards, dones, infos = norm.step(actions)
        raw = tap.last
        term_norm = np.zeros_like(raw["terminal"])
        for i, done in enumerate(dones):
            if done:
                term_norm[i] = infos[i]["terminal_observation"]
        out["steps"].append(
            {
                "training": bool(norm.training),
                "obs": flat(raw["obs"]),
                "rewards": flat(raw["rewards"]),
                "dones": [int(d) for d in raw["dones"]],
                "truncated": [int(d) for d in raw["truncated"]],
                "terminal": flat(raw["terminal"]),
                "normObs": flat(obs),
                "normRewards": flat(rewards),
                "normTerminal": flat(term_norm),
                "obsRms": rms_state(norm.obs_rms),
                "retRms": rms_state(norm.ret_rms),
                "returns": flat(norm.returns),
            }
        )
    return out


class RawTap(gym.Wrapper):
    """Keeps the raw observations and rewards below Gymnasium's normalisation wrappers."""

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.raw_obs = np.array(obs)
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.raw_obs = np.array(obs)
        self.raw_reward = float(reward)
        return obs, reward, terminated, truncated, info


def record_gymnasium_wrappers(steps: int) -> dict:
    gamma = 0.99
    base = gym.make("CartPole-v1", max_episode_steps=15)
    tap = RawTap(base)
    # ppo_continuous_action.py's make_env, after RecordEpisodeStatistics and ClipAction.
    env = gym.wrappers.NormalizeObservation(tap)
    obs_norm = env
    env = gym.wrappers.TransformObservation(env, lambda o: np.clip(o, -10, 10), env.observation_space)
    env = gym.wrappers.NormalizeReward(env, gamma=gamma)
    rew_norm = env
    env = gym.wrappers.TransformReward(env, lambda r: np.clip(r, -10, 10))
    env.action_space.seed(5)
    obs, _ = env.reset(seed=21)
    out = {
        "envId": "CartPole-v1",
        "gamma": gamma,
        "obsDim": 4,
        "reset": {"raw": flat(tap.raw_obs), "norm": flat(obs)},
        "steps": [],
    }
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        step = {
            "obs": flat(tap.raw_obs),
            "reward": tap.raw_reward,
            "terminated": int(terminated),
            "truncated": int(truncated),
            "normObs": flat(obs),
            "normReward": float(reward),
            "obsRms": rms_state(obs_norm.obs_rms),
            "retRms": rms_state(rew_norm.return_rms),
        }
        if terminated or truncated:
            obs, _ = env.reset()
            step["resetRaw"] = flat(tap.raw_obs)
            step["resetNorm"] = flat(obs)
            step["obsRmsAfterReset"] = rms_state(obs_norm.obs_rms)
        out["steps"].append(step)
    return out


def main() -> None:
    data = {
        "versions": {
            "stable_baselines3": stable_baselines3.__version__,
            "gymnasium": gym.__version__,
            "numpy": np.__version__,
        },
        "runningMeanStd": record_running_mean_std(),
        "vecNormalize": [
            record_vec_normalize("CartPole-v1", 4, 30, 0.99, 200, 20),
            record_vec_normalize("Pendulum-v1", 2, 50, 0.9, 160, 20),
        ],
        "gymnasiumWrappers": record_gymnasium_wrappers(200),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(OUT, "wt", encoding="utf-8") as f:
        json.dump(data, f, separators=(",", ":"))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
