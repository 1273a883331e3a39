"""µs per `env.step` of a Gymnasium env under uniform random actions, as bench:mujoco measures Proxima's:
median of 5 blocks of 2,000 steps, resetting at episode ends. Prints one JSON line.

    .venv-ref/bin/python scripts/reference/gym_step_time.py --env HalfCheetah-v5

Not run by CI.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import gymnasium as gym
import numpy as np


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--env", required=True)
    p.add_argument("--blocks", type=int, default=5)
    p.add_argument("--steps", type=int, default=2000)
    args = p.parse_args()
    env = gym.make(args.env)
    rng = np.random.default_rng(12345)
    low, high = env.action_space.low, env.action_space.high
    env.reset(seed=0)
    blocks = []
    for _ in range(args.blocks):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            action = rng.uniform(low, high).astype(env.action_space.dtype)
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()
        blocks.append((time.perf_counter() - t0) * 1e6 / args.steps)
    print(json.dumps({"env": args.env, "usPerStep": statistics.median(blocks)}))


if __name__ == "__main__":
    main()
