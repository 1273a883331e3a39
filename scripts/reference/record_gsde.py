"""Records gSDE reference data from Stable-Baselines3's own StateDependentNoiseDistribution.

test/rl/gsde.test.ts compares Proxima's gSDE (rl/nn/actor-critic.ts, rl/ppo/loss.ts, rl/ppo/gsde.ts)
against what this script writes, so that the reference is SB3 itself, never a transcription.

Not run by CI (CI has no Python). Re-record after upgrading SB3 or torch:

    .venv-ref/bin/pip install --index-url file:///opt/pypi/simple \
        --extra-index-url file:///opt/pypi-more/simple torch
    # SB3 from a source checkout (e.g. the DLR-RM/stable-baselines3 repository), without its deps:
    .venv-ref/bin/pip install --no-deps <path to the checkout>
    .venv-ref/bin/python scripts/reference/record_gsde.py

Writes test/rl/fixtures/reference/gsde.json.gz. Each case builds SB3's `ActorCriticPolicy` as PPO does
with `use_sde=True` (MlpPolicy, net_arch pi/vf [64, 64], Tanh, full_std, no expln, no squashing,
learn_features False) and the case's `log_std_init` and `ortho_init`, perturbs its log-std matrix so
that its entries differ, and records:

- `params`: the policy's weights in Proxima's flat layout [actor | log_std | critic], each Linear as
  W [in, out] row-major then b (torch stores [out, in]), log_std [latent, action dim] row-major;
- `batch`: observations, actions, old log-probs, advantages, returns and old values of a minibatch;
- `variance`, `logprob`, `entropy`: per row, from `evaluate_actions` (the distribution's
  `scale**2 - epsilon`, `log_prob`, `entropy`);
- `loss`, `grads`: CleanRL's PPO loss (clipped surrogate, clipped value loss, entropy bonus: the
  loss rl/ppo/loss.ts computes) built on SB3's log_prob, entropy and value, and its gradient by
  torch autograd, in the same flat layout;
- `noise`: `get_noise` of the batch's first `n_envs` rows with one exploration matrix per env
  (`exploration_matrices`, the batched path collect_rollouts uses), and the actions `sample()` gives.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import stable_baselines3
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy

OUT = Path(__file__).resolve().parents[2] / "test" / "rl" / "fixtures" / "reference" / "gsde.json.gz"

CASES = [
    {"name": "box2-ortho", "obs_dim": 3, "act_dim": 2, "log_std_init": -0.5, "ortho_init": True, "M": 32, "n_envs": 4},
    # rl-zoo's MountainCarContinuous-v0 policy_kwargs: log_std_init=-3.29, ortho_init=False.
    {"name": "box1-zoo-mcc", "obs_dim": 2, "act_dim": 1, "log_std_init": -3.29, "ortho_init": False, "M": 32, "n_envs": 1},
]
COEFS = {"clipCoef": 0.2, "clipVloss": True, "entCoef": 0.01, "vfCoef": 0.5}


def linear_params(layer: th.nn.Linear) -> list[th.Tensor]:
    return [layer.weight.T, layer.bias]


def flat(tensors: list[th.Tensor]) -> list[float]:
    # Nine significant digits identify a float32 exactly (it parses back to the same float32).
    return [float(f"{v:.9g}") for t in tensors for v in t.detach().reshape(-1).tolist()]


def record(case: dict, seed: int) -> dict:
    th.manual_seed(seed)
    rng = np.random.default_rng(seed)
    obs_space = spaces.Box(-10.0, 10.0, (case["obs_dim"],), np.float32)
    act_space = spaces.Box(-1.0, 1.0, (case["act_dim"],), np.float32)
    policy = ActorCriticPolicy(
        obs_space,
        act_space,
        lambda _: 3e-4,
        net_arch=dict(pi=[64, 64], vf=[64, 64]),
        activation_fn=th.nn.Tanh,
        use_sde=True,
        log_std_init=case["log_std_init"],
        ortho_init=case["ortho_init"],
    )
    H = policy.mlp_extractor.latent_dim_pi
    assert tuple(policy.log_std.shape) == (H, case["act_dim"]), policy.log_std.shape
    assert bool(th.all(policy.log_std == case["log_std_init"])), "log_std starts at log_std_init"
    with th.no_grad():
        policy.log_std.add_(0.3 * th.randn_like(policy.log_std))
        # Larger action-head weights than at init, so that the mean and its gradients matter.
        policy.action_net.weight.add_(0.2 * th.randn_like(policy.action_net.weight))

    pi = [m for m in policy.mlp_extractor.policy_net if isinstance(m, th.nn.Linear)]
    vf = [m for m in policy.mlp_extractor.value_net if isinstance(m, th.nn.Linear)]
    actor = [p for layer in [*pi, policy.action_net] for p in linear_params(layer)]
    critic = [p for layer in [*vf, policy.value_net] for p in linear_params(layer)]
    layout = [*actor, policy.log_std, *critic]

    M = case["M"]
    obs = th.tensor(rng.normal(size=(M, case["obs_dim"])), dtype=th.float32)
    with th.no_grad():
        # Actions where the policy puts them (z-scores ~ 1.5, as after a few updates): an action many
        # standard deviations away only tests float32 cancellation, not gSDE.
        base = policy.get_distribution(obs).distribution
        z = th.tensor(rng.normal(size=base.mean.shape), dtype=th.float32)
        actions = (base.mean + 1.5 * base.stddev * z).float()

    values, logprob, entropy = policy.evaluate_actions(obs, actions)
    dist = policy.get_distribution(obs)
    variance = dist.distribution.scale**2 - dist.epsilon

    old_logprob = (logprob.detach() + 0.3 * th.tensor(rng.normal(size=M), dtype=th.float32)).float()
    advantages = th.tensor(rng.normal(size=M), dtype=th.float32)
    returns = th.tensor(rng.normal(size=M), dtype=th.float32)
    old_values = (values.detach().flatten() + 0.3 * th.tensor(rng.normal(size=M), dtype=th.float32)).float()

    eps = COEFS["clipCoef"]
    logratio = logprob - old_logprob
    ratio = logratio.exp()
    pg_loss = th.max(-advantages * ratio, -advantages * th.clamp(ratio, 1 - eps, 1 + eps)).mean()
    newvalue = values.flatten()
    v_unclipped = (newvalue - returns) ** 2
    v_clipped = (old_values + th.clamp(newvalue - old_values, -eps, eps) - returns) ** 2
    v_loss = 0.5 * th.max(v_unclipped, v_clipped).mean()
    loss = pg_loss - COEFS["entCoef"] * entropy.mean() + COEFS["vfCoef"] * v_loss
    policy.zero_grad()
    loss.backward()
    # The layout holds transposed views of the Linear weights: take each parameter's .grad, transposed.
    grads = []
    for layer in [*pi, policy.action_net]:
        grads += [layer.weight.grad.T, layer.bias.grad]
    grads.append(policy.log_std.grad)
    for layer in [*vf, policy.value_net]:
        grads += [layer.weight.grad.T, layer.bias.grad]

    n = case["n_envs"]
    policy.reset_noise(n)
    with th.no_grad():
        latent = policy.mlp_extractor.forward_actor(obs[:n])
        dist_n = policy.get_distribution(obs[:n])
        noise = policy.action_dist.get_noise(latent)
        sampled = dist_n.sample()
        sampled_logprob = dist_n.log_prob(sampled)
    mats = policy.action_dist.exploration_matrices if n > 1 else policy.action_dist.exploration_mat[None]

    return {
        "name": case["name"],
        "obsDim": case["obs_dim"],
        "actDim": case["act_dim"],
        "hiddenSizes": [64, 64],
        "latentDim": H,
        "logStdInit": case["log_std_init"],
        "orthoInit": case["ortho_init"],
        "coefs": COEFS,
        "params": flat(layout),
        "batch": {
            "M": M,
            "obs": flat([obs]),
            "actions": flat([actions]),
            "logprobs": flat([old_logprob]),
            "advantages": flat([advantages]),
            "returns": flat([returns]),
            "values": flat([old_values]),
        },
        "variance": flat([variance]),
        "logprob": flat([logprob]),
        "entropy": flat([entropy]),
        "loss": float(loss.detach()),
        "grads": flat(grads),
        "noise": {
            "nEnvs": n,
            "latent": flat([latent]),
            "explorationMatrices": flat([mats]),
            "noise": flat([noise]),
            "actions": flat([sampled]),
            "logprobs": flat([sampled_logprob]),
        },
    }


def main() -> None:
    th.set_num_threads(1)
    fixture = {
        "source": f"stable-baselines3 {stable_baselines3.__version__}, torch {th.__version__}",
        "cases": [record(case, seed=10 + i) for i, case in enumerate(CASES)],
    }
    # mtime=0: the same data gives the same bytes.
    OUT.write_bytes(gzip.compress((json.dumps(fixture) + "\n").encode(), mtime=0))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
