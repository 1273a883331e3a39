"""Evaluates a policy exported by Proxima as ONNX in real Python Gymnasium, with onnxruntime.

The model is what `proxima export --checkpoint FILE --format onnx` or `GET /api/v1/runs/:id/policy.onnx`
writes (rl/export/onnx.ts): input `obs` float32 [batch, obsDim] of raw observations, output `action`
(int64 argmax for Discrete, float32 clipped mean for Box). Each episode i is `gym.make(env).reset(seed=s_i)`
run to its end (termination or the TimeLimit), as Proxima's deterministic evaluation runs env i of its
vector env seeded seed + i: with seeds seed, seed+1, ... both evaluations are the same, seed for seed.

Not run by CI (CI has no Python). Usage, with the venv of scripts/reference:

    .venv-ref/bin/python scripts/reference/eval_onnx.py --model policy.onnx \\
        [--env CartPole-v1] [--seed 1000001 --episodes 10 | --seeds 3,5,8] [--json]

--env defaults to the env id the exporter wrote into the model's metadata (`env_id`). Prints one
return per episode and their mean, or with --json one object {env, seeds, returns, lengths, mean, std}.
"""

from __future__ import annotations

import argparse
import json
import math

import gymnasium as gym
import numpy as np
import onnxruntime as ort


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="the exported .onnx file")
    p.add_argument("--env", help="Gymnasium env id (default: the model's env_id metadata)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode; episode i uses seed + i")
    p.add_argument("--episodes", type=int, default=10, help="number of episodes (with --seed)")
    p.add_argument("--seeds", help="comma-separated seeds, one episode each (instead of --seed/--episodes)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p.parse_args()


def run_episode(session: ort.InferenceSession, env: gym.Env, seed: int) -> tuple[float, int]:
    obs, _ = env.reset(seed=seed)
    total, length = 0.0, 0
    while True:
        batch = np.asarray(obs, dtype=np.float32).reshape(1, -1)
        (action,) = session.run(["action"], {"obs": batch})
        if isinstance(env.action_space, gym.spaces.Discrete):
            step_action = int(action[0])
        else:
            step_action = np.asarray(action[0], dtype=np.float32)
        obs, reward, terminated, truncated, _ = env.step(step_action)
        total += float(reward)
        length += 1
        if terminated or truncated:
            return total, length


def main() -> None:
    args = parse_args()
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    env_id = args.env or session.get_modelmeta().custom_metadata_map.get("env_id")
    if not env_id:
        raise SystemExit("the model names no env_id: pass --env")
    if env_id.startswith("custom:"):
        raise SystemExit(f"{env_id} is an environment defined by code in Proxima: Gymnasium does not have it")
    if args.seeds:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    else:
        seeds = [args.seed + i for i in range(args.episodes)]
    returns: list[float] = []
    lengths: list[int] = []
    for seed in seeds:
        env = gym.make(env_id)
        try:
            ret, length = run_episode(session, env, seed)
        finally:
            env.close()
        returns.append(ret)
        lengths.append(length)
    mean = sum(returns) / len(returns)
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / len(returns))
    if args.json:
        print(json.dumps({"env": env_id, "seeds": seeds, "returns": returns, "lengths": lengths, "mean": mean, "std": std}))
    else:
        for seed, ret, length in zip(seeds, returns, lengths):
            print(f"seed {seed}: return {ret:.3f} over {length} steps")
        print(f"{env_id}: {mean:.3f} ± {std:.3f} over {len(returns)} episodes")


if __name__ == "__main__":
    main()
