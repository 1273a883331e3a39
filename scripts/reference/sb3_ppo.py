"""Stable-Baselines3 PPO with rl-baselines3-zoo's `hyperparams/ppo.yml` entries, for side-by-side runs.

`npm run bench:ppo -- --sb3` runs this beside Proxima on the same machine and prints both wall times.
One PyTorch thread (as the zoo runs on one core per env here), the same envs from Python Gymnasium,
VecNormalize and gSDE where the zoo sets them, then the deterministic evaluation Proxima reports:
10 episodes, episode i seeded `eval_seed + i`, observations normalised with the frozen statistics,
raw rewards. Prints one JSON line.

    .venv-ref/bin/python scripts/reference/sb3_ppo.py --env CartPole-v1 --seed 1 [--steps 100000]
    .venv-ref/bin/python scripts/reference/sb3_ppo.py --env HalfCheetah-v5 --preset cleanrl --steps 1000000

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

# The zoo's MuJoCo entries (tuned on v2-v4; the zoo has none for v5), with their policy_kwargs.
ZOO_MUJOCO_NET = dict(
    log_std_init=-2, ortho_init=False, activation_fn=torch.nn.ReLU,
    net_arch=dict(pi=[256, 256], vf=[256, 256]),
)
ZOO.update({
    "HalfCheetah-v5": dict(
        normalize=True, n_envs=1, n_timesteps=1e6, batch_size=64, n_steps=512, gamma=0.98,
        learning_rate=2.0633e-05, ent_coef=0.000401762, clip_range=0.1, n_epochs=20, gae_lambda=0.92,
        max_grad_norm=0.8, vf_coef=0.58096, policy_kwargs=ZOO_MUJOCO_NET,
    ),
    "Hopper-v5": dict(
        normalize=True, n_envs=1, n_timesteps=1e6, batch_size=32, n_steps=512, gamma=0.999,
        learning_rate=9.80828e-05, ent_coef=0.00229519, clip_range=0.2, n_epochs=5, gae_lambda=0.99,
        max_grad_norm=0.7, vf_coef=0.835671, policy_kwargs=ZOO_MUJOCO_NET,
    ),
    "Walker2d-v5": dict(
        normalize=True, n_envs=1, n_timesteps=1e6, batch_size=32, n_steps=512, gamma=0.99,
        learning_rate=5.05041e-05, ent_coef=0.000585045, clip_range=0.1, n_epochs=20, gae_lambda=0.95,
        max_grad_norm=1, vf_coef=0.871923,
    ),
    "Ant-v5": dict(normalize=True, n_envs=1, n_timesteps=1e6),
    "Swimmer-v5": dict(
        normalize=True, n_envs=4, n_timesteps=1e6, gamma=0.9999, n_steps=1024, batch_size=256,
        learning_rate=6e-4, gae_lambda=0.98,
    ),
})

# CleanRL's ppo_continuous_action.py in SB3's terms: one env x 2048 steps, 32 minibatches of 64,
# 10 epochs, lr 3e-4 annealed to 0, clipped value loss (clip_range_vf = clip_coef), 64-64 tanh, and
# vf_coef 0.25: CleanRL's value loss is 0.5 * mean((V - R)^2) weighted 0.5, SB3's is mse weighted
# vf_coef. Its env stack (action clipping, NormalizeObservation, clip 10, NormalizeReward, clip 10) is
# built by `cleanrl_env` below from Gymnasium's own wrappers.
CLEANRL_CONTINUOUS = dict(
    n_envs=1, n_timesteps=1e6, n_steps=2048, batch_size=64, n_epochs=10, learning_rate=lin(3e-4),
    gamma=0.99, gae_lambda=0.95, clip_range=0.2, clip_range_vf=0.2, ent_coef=0.0, vf_coef=0.25,
    max_grad_norm=0.5,
)


def cleanrl_env(env_id: str, gamma: float):
    """CleanRL ppo_continuous_action.py's make_env, with Gymnasium's wrappers."""

    def make(**_kwargs):
        # No ClipAction: Gymnasium 1.x's makes the action space unbounded, which SB3 refuses, and SB3
        # clips Box actions to the space before env.step itself (OnPolicyAlgorithm.collect_rollouts).
        env = gym.make(env_id)
        env = gym.wrappers.NormalizeObservation(env)
        env = gym.wrappers.TransformObservation(env, lambda obs: np.clip(obs, -10, 10), env.observation_space)
        env = gym.wrappers.NormalizeReward(env, gamma=gamma)
        env = gym.wrappers.TransformReward(env, lambda reward: np.clip(reward, -10, 10))
        return env

    return make


def find_wrapper(env, kind):
    while env is not None:
        if isinstance(env, kind):
            return env
        env = getattr(env, "env", None)
    return None


def evaluate(model, normalize_obs, env_id: str, episodes: int, seed: int) -> list[float]:
    env = gym.make(env_id)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            o = obs[None, :]
            if normalize_obs is not None:
                o = normalize_obs(o)
            action, _ = model.predict(o, deterministic=True)
            a = action[0]
            obs, reward, terminated, truncated, _ = env.step(a)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return returns


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--env", required=True)
    p.add_argument("--preset", choices=["zoo", "cleanrl"], default="zoo")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--eval-seed", type=int, default=None)
    args = p.parse_args()
    torch.set_num_threads(1)

    if args.preset == "zoo":
        if args.env not in ZOO:
            p.error(f"no zoo entry for {args.env} (known: {', '.join(sorted(ZOO))})")
        hp = dict(ZOO[args.env])
    else:
        hp = dict(CLEANRL_CONTINUOUS)
    n_envs = hp.pop("n_envs")
    steps = int(args.steps if args.steps is not None else hp.pop("n_timesteps"))
    hp.pop("n_timesteps", None)
    normalize = hp.pop("normalize", False)
    if args.preset == "cleanrl":
        venv = make_vec_env(cleanrl_env(args.env, hp["gamma"]), n_envs=n_envs, seed=args.seed)
    else:
        venv = make_vec_env(args.env, n_envs=n_envs, seed=args.seed)
    if normalize:
        # rl-zoo passes the algorithm's gamma to VecNormalize.
        venv = VecNormalize(venv, gamma=hp.get("gamma", 0.99))
    model = PPO("MlpPolicy", venv, seed=args.seed, device="cpu", verbose=0, **hp)
    started = time.perf_counter()
    model.learn(total_timesteps=steps)
    wall = time.perf_counter() - started
    normalize_obs = None
    if normalize:
        norm = model.get_env()
        norm.training = False
        normalize_obs = norm.normalize_obs
    elif args.preset == "cleanrl":
        # The training env's NormalizeObservation statistics, frozen, then CleanRL's clip at 10.
        rms = find_wrapper(venv.envs[0], gym.wrappers.NormalizeObservation).obs_rms
        eps = 1e-8
        normalize_obs = lambda o: np.clip((o - rms.mean) / np.sqrt(rms.var + eps), -10, 10)  # noqa: E731
    eval_seed = args.eval_seed if args.eval_seed is not None else args.seed + 1_000_000
    returns = evaluate(model, normalize_obs, args.env, args.eval_episodes, eval_seed)
    print(
        json.dumps(
            {
                "env": args.env,
                "preset": args.preset,
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
