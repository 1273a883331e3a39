"""Records whole PPO updates from Stable-Baselines3's own `PPO`: a rollout on a real MuJoCo env, its GAE,
the minibatch order, and the parameters before and after `PPO.train()`.

test/rl/ppo-update-sb3.test.ts runs Proxima's learner (rl/ppo/learner.ts: GAE with the timeout
bootstrap, minibatches, per-minibatch advantage normalisation, clipped surrogate, value loss, entropy
bonus, global grad-norm clipping, Adam) on the same rollout, from the same parameters, in the same
minibatch order, and compares the parameters it ends with. The reference is SB3 itself, never a
transcription of it.

Not run by CI (CI has no Python). Re-record after upgrading SB3, torch, gymnasium or mujoco:

    .venv-ref/bin/pip install --index-url file:///opt/pypi/simple \
        --extra-index-url file:///opt/pypi-more/simple gymnasium==1.3.0 mujoco torch imageio
    # SB3 from a source checkout (e.g. the DLR-RM/stable-baselines3 repository), without its deps:
    .venv-ref/bin/pip install --no-deps <path to the checkout>
    .venv-ref/bin/python scripts/reference/record_ppo_update.py

Writes test/rl/fixtures/reference/ppo-update.json.gz. Each case is one `PPO.learn(n_steps × n_envs)`
(DummyVecEnv, so a rollout and one update), with a time limit short enough that the rollout holds
both terminated and truncated episodes (SB3 bootstraps a truncation by adding γ·V(final observation)
to its reward). No VecNormalize: normalisation has its own fixture (record_normalize.py). A wrapper
inside SB3's vec env records each step's raw reward, flags and final observation; `PPO.train` is
wrapped to record θ before and after, and `np.random.permutation` (RolloutBuffer.get's minibatch
order) to record each epoch's permutation. Per case:

- `paramsBefore`, `paramsAfter`: the policy in Proxima's flat layout [actor | log_std | critic], each
  Linear as W [in, out] row-major then b (torch stores [out, in]);
- `rollout`: observations and actions as the policy saw and sampled them (actions before clipping to
  the action space; a Discrete action as its index), SB3's old log-probs and values, raw rewards,
  terminated and truncated per step, the final observations of truncated steps and V of them, the
  observations after the last step and V of them. Time-major, index t·n_envs + i, as the buffer holds
  them before `get()` (and as Proxima's Rollout does);
- `advantages`, `returns`: SB3's `RolloutBuffer` after `compute_returns_and_advantage` (time-major);
- `permutations`: one per epoch, of indices into the buffer as `get()` flattens it: env-major,
  i·n_steps + t (`swap_and_flatten`);
- `logged`: what `train()` logged (clip_fraction, policy_gradient_loss, value_loss, entropy_loss, approx_kl).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import stable_baselines3
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

OUT = Path(__file__).resolve().parents[2] / "test" / "rl" / "fixtures" / "reference" / "ppo-update.json.gz"

CASES = [
    # CleanRL's continuous settings (64-64 tanh, orthogonal init, log-std 0, clip 0.2, grad norm 0.5),
    # on Hopper, whose falls terminate episodes; a 40-step limit truncates the ones that stand.
    dict(
        name="hopper-cleanrl", env="Hopper-v5", max_episode_steps=40, seed=3,
        n_steps=256, batch_size=64, n_epochs=4, learning_rate=3e-4, clip_range=0.2,
        ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, gamma=0.99, gae_lambda=0.95,
        policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]), activation_fn="tanh"),
    ),
    # rl-zoo's MuJoCo policy_kwargs (ReLU, no orthogonal init, log-std -2) at 64-64, its HalfCheetah
    # coefficients but a 10x learning rate (so that 24 steps move θ well past float32 rounding);
    # HalfCheetah never terminates, so every episode end is a truncation.
    dict(
        name="halfcheetah-zoo", env="HalfCheetah-v5", max_episode_steps=100, seed=4,
        n_steps=256, batch_size=32, n_epochs=3, learning_rate=2.0633e-4, clip_range=0.1,
        ent_coef=0.000401762, vf_coef=0.58096, max_grad_norm=0.8, gamma=0.98, gae_lambda=0.92,
        policy_kwargs=dict(
            net_arch=dict(pi=[64, 64], vf=[64, 64]), activation_fn="relu", ortho_init=False, log_std_init=-2,
        ),
    ),
    # Several envs and a Discrete action: rl-zoo's CartPole layout (8 envs × 32 steps, γ 0.98, λ 0.8)
    # with SB3's default MlpPolicy (64-64 tanh, orthogonal init), an entropy bonus so that the
    # Categorical's entropy gradient counts, a learning rate and clip range under which ~6% of the
    # ratios leave the clip range, and a 20-step limit so that a rollout holds falls (terminated) and
    # time-outs (truncated) in several envs.
    dict(
        name="cartpole-8-envs", env="CartPole-v1", max_episode_steps=20, seed=5, n_envs=8,
        n_steps=32, batch_size=64, n_epochs=4, learning_rate=3e-3, clip_range=0.05,
        ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, gamma=0.98, gae_lambda=0.8,
        policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]), activation_fn="tanh"),
    ),
]

ACTIVATIONS = {"tanh": th.nn.Tanh, "relu": th.nn.ReLU}


class RecordSteps(gym.Wrapper):
    """Each step's raw reward, flags and observation (the final one when the episode ended)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.steps: list[dict] = []

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps.append(
            dict(reward=float(reward), terminated=bool(terminated), truncated=bool(truncated),
                 obs=np.asarray(obs, dtype=np.float32))
        )
        return obs, reward, terminated, truncated, info


def linear_params(layer: th.nn.Linear) -> list[th.Tensor]:
    return [layer.weight.T, layer.bias]


def policy_layout(policy) -> list[th.Tensor]:
    pi = [m for m in policy.mlp_extractor.policy_net if isinstance(m, th.nn.Linear)]
    vf = [m for m in policy.mlp_extractor.value_net if isinstance(m, th.nn.Linear)]
    actor = [p for layer in [*pi, policy.action_net] for p in linear_params(layer)]
    critic = [p for layer in [*vf, policy.value_net] for p in linear_params(layer)]
    # A Categorical policy has no log-std (nor has Proxima's layout of one).
    log_std = [policy.log_std] if hasattr(policy, "log_std") else []
    return [*actor, *log_std, *critic]


def flat(tensors) -> list[float]:
    # Nine significant digits identify a float32 exactly (it parses back to the same float32).
    out = []
    for t in tensors:
        a = t.detach().cpu().numpy() if isinstance(t, th.Tensor) else np.asarray(t)
        out += [float(f"{v:.9g}") for v in a.astype(np.float32).reshape(-1).tolist()]
    return out


def values_of(policy, obs: np.ndarray) -> np.ndarray:
    with th.no_grad():
        return policy.predict_values(th.as_tensor(obs, dtype=th.float32)).flatten().numpy()


def record(case: dict) -> dict:
    n_envs = case.get("n_envs", 1)
    recorders: list[RecordSteps] = []
    recorder: dict = {}

    def make():
        env = RecordSteps(gym.make(case["env"], max_episode_steps=case["max_episode_steps"]))
        recorders.append(env)
        return env

    venv = DummyVecEnv([make] * n_envs)
    kwargs = dict(case["policy_kwargs"])
    activation = kwargs.pop("activation_fn")
    model = PPO(
        "MlpPolicy", venv, n_steps=case["n_steps"], batch_size=case["batch_size"], n_epochs=case["n_epochs"],
        learning_rate=case["learning_rate"], clip_range=case["clip_range"], clip_range_vf=None,
        ent_coef=case["ent_coef"], vf_coef=case["vf_coef"], max_grad_norm=case["max_grad_norm"],
        gamma=case["gamma"], gae_lambda=case["gae_lambda"], normalize_advantage=True, target_kl=None,
        policy_kwargs=dict(kwargs, activation_fn=ACTIVATIONS[activation]), seed=case["seed"], device="cpu",
    )
    train = model.train
    permutation = np.random.permutation
    permutations: list[list[int]] = []

    def recording_permutation(n):
        p = permutation(n)
        permutations.append([int(i) for i in p])
        return p

    def recording_train():
        buf = model.rollout_buffer
        assert all(len(r.steps) == case["n_steps"] for r in recorders)
        # Time-major, t·n_envs + i: the buffer's own order before get() flattens it.
        steps = [recorders[i].steps[t] for t in range(case["n_steps"]) for i in range(n_envs)]
        final = [i for i, s in enumerate(steps) if s["truncated"] and not s["terminated"]]
        recorder["before"] = flat(policy_layout(model.policy))
        recorder["rollout"] = dict(
            obs=flat([buf.observations]),
            actions=flat([buf.actions]),
            logprobs=flat([buf.log_probs]),
            values=flat([buf.values]),
            rewards=[s["reward"] for s in steps],
            terminated=[int(s["terminated"]) for s in steps],
            truncated=[int(s["truncated"]) for s in steps],
            truncatedIndex=final,
            truncatedObs=flat([np.stack([steps[i]["obs"] for i in final])]),
            truncatedValues=flat([values_of(model.policy, np.stack([steps[i]["obs"] for i in final]))]),
            nextObs=flat([model._last_obs]),
            nextValues=flat([values_of(model.policy, model._last_obs)]),
        )
        recorder["advantages"] = flat([buf.advantages])
        recorder["returns"] = flat([buf.returns])
        np.random.permutation = recording_permutation
        try:
            train()
        finally:
            np.random.permutation = permutation
        recorder["after"] = flat(policy_layout(model.policy))
        recorder["logged"] = {
            k.removeprefix("train/"): float(v)
            for k, v in model.logger.name_to_value.items()
            if k in ("train/clip_fraction", "train/policy_gradient_loss", "train/value_loss",
                     "train/entropy_loss", "train/approx_kl")
        }

    model.train = recording_train
    model.learn(total_timesteps=case["n_steps"] * n_envs)
    r = recorder["rollout"]
    terminated = sum(r["terminated"])
    truncated = len(r["truncatedIndex"])
    assert truncated > 0, "the case needs truncated episodes"
    assert case["env"] == "HalfCheetah-v5" or terminated > 0, "the case needs terminated episodes"
    assert len(permutations) == case["n_epochs"], len(permutations)
    space = venv.action_space
    discrete = isinstance(space, gym.spaces.Discrete)
    return {
        "name": case["name"],
        "env": case["env"],
        "numEnvs": n_envs,
        "obsDim": venv.observation_space.shape[0],
        "action": {"kind": "discrete", "n": int(space.n)} if discrete else {"kind": "box", "dim": space.shape[0]},
        "hiddenSizes": case["policy_kwargs"]["net_arch"]["pi"],
        "activation": activation,
        "numSteps": case["n_steps"],
        "minibatchSize": case["batch_size"],
        "epochs": case["n_epochs"],
        "learningRate": case["learning_rate"],
        "clipRange": case["clip_range"],
        "entCoef": case["ent_coef"],
        "vfCoef": case["vf_coef"],
        "maxGradNorm": case["max_grad_norm"],
        "gamma": case["gamma"],
        "gaeLambda": case["gae_lambda"],
        "episodes": {"terminated": terminated, "truncated": truncated},
        "paramsBefore": recorder["before"],
        "paramsAfter": recorder["after"],
        "rollout": r,
        "advantages": recorder["advantages"],
        "returns": recorder["returns"],
        "permutations": permutations,
        "logged": recorder["logged"],
    }


def main() -> None:
    th.set_num_threads(1)
    import mujoco

    fixture = {
        "source": f"stable-baselines3 {stable_baselines3.__version__}, torch {th.__version__}, "
        f"gymnasium {gym.__version__}, mujoco {mujoco.__version__}",
        "cases": [record(case) for case in CASES],
    }
    # mtime=0: the same data gives the same bytes.
    OUT.write_bytes(gzip.compress((json.dumps(fixture) + "\n").encode(), mtime=0))
    for c in fixture["cases"]:
        print(c["name"], c["episodes"], c["logged"])
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
