"""Stable-Baselines3 PPO with rl-baselines3-zoo's `hyperparams/ppo.yml` entries, for side-by-side runs.

`npm run bench:ppo -- --sb3` runs this beside Proxima on the same machine and prints both wall times.
One PyTorch thread (as the zoo runs on one core per env here), the same envs from Python Gymnasium,
VecNormalize and gSDE where the zoo sets them, then the deterministic evaluation Proxima reports:
10 episodes, episode i seeded `eval_seed + i`, observations normalised with the frozen statistics,
raw rewards. Prints one JSON line.

    .venv-ref/bin/python scripts/reference/sb3_ppo.py --env CartPole-v1 --seed 1 [--steps 100000]

Needs gymnasium, torch and stable-baselines3 in .venv-ref (SB3 from a source checkout with
`pip install --no-deps`; torch from the local index). Not run by CI.
"""

from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize


def lin(x: float):
    # rl-zoo's `lin_<x>`: linear decay from x to 0 over training (progress_remaining goes 1 -> 0).
    return lambda progress_remaining: progress_remaining * x


# rl-baselines3-zoo hyperparams/ppo.yml (the five classic-control entries), as the zoo passes them.
ZOO = {
    "CartPole-v1": dict(
        n_envs=8, n_timesteps=1e5, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98,
        n_epochs=20, ent_coef=0.0, learning_rate=lin(0.001), clip_range=lin(0.2),
    ),
    "Acrobot-v1": dict(
        normalize=True, n_envs=16, n_timesteps=1e6, n_steps=256, gae_lambda=0.94, gamma=0.99,
        n_epochs=4, ent_coef=0.0,
    ),
    "MountainCar-v0": dict(
        normalize=True, n_envs=16, n_timesteps=1e6, n_steps=16, gae_lambda=0.98, gamma=0.99,
        n_epochs=4, ent_coef=0.0,
    ),
    "MountainCarContinuous-v0": dict(
        normalize=True, n_envs=1, n_timesteps=20000, batch_size=256, n_steps=8, gamma=0.9999,
        learning_rate=7.77e-05, ent_coef=0.00429, clip_range=0.1, n_epochs=10, gae_lambda=0.9,
        max_grad_norm=5, vf_coef=0.19, use_sde=True,
        policy_kwargs=dict(log_std_init=-3.29, ortho_init=False),
    ),
    "Pendulum-v1": dict(
        n_envs=4, n_timesteps=1e5, n_steps=1024, gae_lambda=0.95, gamma=0.9, n_epochs=10,
        ent_coef=0.0, learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4,
    ),
}


def evaluate(model, venv_norm, env_id: str, episodes: int, seed: int) -> list[float]:
    env = gym.make(env_id)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            o = obs[None, :]
            if venv_norm is not None:
                o = venv_norm.normalize_obs(o)
            action, _ = model.predict(o, deterministic=True)
            a = action[0]
            obs, reward, terminated, truncated, _ = env.step(a)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--env", required=True, choices=sorted(ZOO))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--eval-seed", type=int, default=None)
    args = p.parse_args()
    torch.set_num_threads(1)

    hp = dict(ZOO[args.env])
    n_envs = hp.pop("n_envs")
    steps = int(args.steps if args.steps is not None else hp.pop("n_timesteps"))
    hp.pop("n_timesteps", None)
    normalize = hp.pop("normalize", False)
    venv = make_vec_env(args.env, n_envs=n_envs, seed=args.seed)
    if normalize:
        # rl-zoo passes the algorithm's gamma to VecNormalize.
        venv = VecNormalize(venv, gamma=hp.get("gamma", 0.99))
    model = PPO("MlpPolicy", venv, seed=args.seed, device="cpu", verbose=0, **hp)
    started = time.perf_counter()
    model.learn(total_timesteps=steps)
    wall = time.perf_counter() - started
    norm = None
    if normalize:
        norm = model.get_env()
        norm.training = False
    eval_seed = args.eval_seed if args.eval_seed is not None else args.seed + 1_000_000
    returns = evaluate(model, norm, args.env, args.eval_episodes, eval_seed)
    print(
        json.dumps(
            {
                "env": args.env,
                "seed": args.seed,
                "steps": steps,
                "wallSeconds": wall,
                "sps": steps / wall,
                "evalMean": float(np.mean(returns)),
                "evalStd": float(np.std(returns)),
                "returns": returns,
            }
        )
    )


if __name__ == "__main__":
    main()
