#!/usr/bin/env python3
"""Record reference data for the C++ environments in rl/envs (tests/rl).

Run with a Python that has the reference implementations installed, e.g.

    python3 -m venv /tmp/rlvenv
    /tmp/rlvenv/bin/pip install minatar gymnasium numpy
    /tmp/rlvenv/bin/python scripts/record_env_stats.py

It writes two small text fixtures:

tests/rl/fixtures/random_policy_stats.txt
    For Gymnasium's CartPole-v1 and the five MinAtar games with their defaults (sticky
    actions p = 0.1, difficulty ramping, all 6 actions): the mean and sample standard
    deviation of the episode return and length of a uniformly random policy over N
    episodes. tests/rl/test_env_statistics.cpp runs N episodes of the C++ environments
    with different seeds and checks that the means agree within 4 standard errors of the
    difference; with the same seeds (STAT_ENV_SEED, STAT_POLICY_SEED) it must reproduce
    every number exactly.

tests/rl/fixtures/reference_traces.txt
    Exact trajectories: for fixed seeds and a deterministic action sequence (splitmix64,
    reproduced in C++), a rolling 64-bit hash of (observation, reward, terminal) after
    every step, written every HASH_INTERVAL steps, plus each episode's length and return;
    for CartPole the float32 observations themselves. The C++ envs reproduce numpy's
    random streams, so tests/rl/test_reference_traces.cpp must match these bit for bit.
"""
import argparse
import logging
import os
import sys

logging.disable(logging.WARNING)  # minatar warns that matplotlib is missing

import numpy as np  # noqa: E402
import gymnasium  # noqa: E402
import minatar  # noqa: E402
from minatar import Environment  # noqa: E402
from importlib.metadata import version  # noqa: E402

MASK64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
HASH_INTERVAL = 50
GAMES = ["breakout", "freeway", "asterix", "space_invaders", "seaquest"]

# Random-policy episodes per environment (all fast in Python; the C++ test runs as many).
STAT_EPISODES = {
    "cartpole": 5000,
    "breakout": 20000,
    "freeway": 600,
    "asterix": 5000,
    "space_invaders": 3000,
    "seaquest": 10000,
}
STAT_ENV_SEED = 12345      # reference env seed for the statistics (the C++ test uses others)
STAT_POLICY_SEED = 67890   # np.random.RandomState seed of the random policy


class SplitMix64:
    """splitmix64; the trace tests draw action t as next() % num_actions."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


def cell_weights(n):
    """Per-cell 64-bit weights for the observation digest: splitmix64 from seed 0."""
    g = SplitMix64(0)
    return np.array([g.next() for _ in range(n)], dtype=np.uint64)


class TraceHash:
    """Rolling hash of (channel-major uint8 observation, reward, terminal) per step."""

    def __init__(self, n_cells):
        self.w = cell_weights(n_cells)
        self.h = FNV_OFFSET

    def update(self, obs_chw, reward, terminal):
        digest = int(self.w[obs_chw.ravel().astype(bool)].sum(dtype=np.uint64))
        for v in (digest, (int(reward) + 1000) & MASK64, int(bool(terminal))):
            self.h = ((self.h ^ v) * FNV_PRIME) & MASK64


def chw(state):
    return np.ascontiguousarray(np.transpose(state, (2, 0, 1))).astype(np.uint8)


def minatar_action(policy, pol, state):
    """The trace policies: 'random' = splitmix64 % 6; 'track' (Breakout) = move the paddle
    towards the column the ball moves into (ball + (ball - trail), clipped), with a
    splitmix64 draw still consumed every step."""
    a = pol.next() % 6
    if policy == "random":
        return a
    ball_x = int(np.argmax(state[:, :, 1].any(axis=0)))
    trail_x = int(np.argmax(state[:, :, 2].any(axis=0)))
    paddle_x = int(np.argmax(state[9, :, 0]))
    target = min(9, max(0, 2 * ball_x - trail_x))
    return 1 if target < paddle_x else 3 if target > paddle_x else 0


def minatar_traces(out):
    # (game, policy, sticky prob, ramping, env seed, policy seed, episodes, max steps per episode)
    configs = []
    for g in GAMES:
        configs.append((g, "random", 0.1, True, 1, 101, 3, 3000))
        configs.append((g, "random", 0.0, False, 2, 202, 2, 3000))
    # A paddle that follows the ball clears walls of bricks (refills, double hits).
    configs.append(("breakout", "track", 0.1, True, 3, 303, 2, 3000))
    configs.append(("breakout", "track", 0.0, True, 4, 404, 1, 3000))
    # Long or rewarding episodes exercise more rules (ramping, waves, surfacing): pick the
    # best of many seeds for each game.
    for g in GAMES:
        best = []
        for seed in range(1000, 1400 if g != "freeway" else 1030):
            env = Environment(g)
            env.seed(seed)
            env.reset()
            pol = SplitMix64(seed)
            ret, length, done = 0, 0, False
            while not done and length < 3000:
                r, done = env.act(pol.next() % 6)
                ret += r
                length += 1
            best.append((ret, length, seed))
        best.sort(reverse=True)
        for ret, length, seed in best[:2]:
            configs.append((g, "random", 0.1, True, seed, seed, 1, 3000))

    for game, policy, sticky, ramping, seed, policy_seed, episodes, max_steps in configs:
        env = Environment(game, sticky_action_prob=sticky, difficulty_ramping=ramping)
        env.seed(seed)
        pol = SplitMix64(policy_seed)
        n_cells = env.state_shape()[2] * 100
        for ep in range(episodes):
            env.reset()
            th = TraceHash(n_cells)
            th.update(chw(env.state()), 0, False)
            hashes = []
            ret, length, terminal = 0, 0, False
            while not terminal and length < max_steps:
                r, terminal = env.act(minatar_action(policy, pol, env.state()))
                ret += r
                length += 1
                th.update(chw(env.state()), r, terminal)
                if length % HASH_INTERVAL == 0:
                    hashes.append(th.h)
            hashes.append(th.h)
            out.write(f"minatar {game} {policy} {sticky} {int(ramping)} {seed} {policy_seed} {ep} {max_steps} "
                      f"{length} {ret} {int(terminal)} " + " ".join(f"{h:016x}" for h in hashes) + "\n")


def cartpole_traces(out):
    # policy 'random' = splitmix64 % 2; 'balance' = push towards where the pole falls
    # (theta + 0.5 theta_dot > 0, from the float32 observation), which reaches the time limit.
    for policy, seed, policy_seed, episodes in [("random", 0, 7, 3), ("random", 42, 8, 3),
                                                ("random", 2**40 + 3, 9, 2), ("balance", 5, 0, 1)]:
        env = gymnasium.make("CartPole-v1")
        pol = SplitMix64(policy_seed)
        for ep in range(episodes):
            obs, _ = env.reset(seed=seed) if ep == 0 else env.reset()
            rows = [obs]
            ret, length, term, trunc = 0.0, 0, False, False
            while not (term or trunc):
                a = int(pol.next() % 2)
                if policy == "balance":
                    a = int(float(obs[2]) + 0.5 * float(obs[3]) > 0)
                obs, r, term, trunc, _ = env.step(a)
                rows.append(obs)
                ret += r
                length += 1
            out.write(f"cartpole {policy} {seed} {policy_seed} {ep} {length} {ret:g} {int(term)} {int(trunc)}\n")
            for t, o in enumerate(rows):
                out.write(f"obs {t} " + " ".join(f"{float(v):.9g}" for v in o) + "\n")


def random_policy_stats(out):
    rows = []
    pol = np.random.RandomState(STAT_POLICY_SEED)
    for name, n in STAT_EPISODES.items():
        rets, lens = [], []
        if name == "cartpole":
            env = gymnasium.make("CartPole-v1")
            env.reset(seed=STAT_ENV_SEED)
            for ep in range(n):
                if ep:
                    env.reset()
                ret, length, done = 0.0, 0, False
                while not done:
                    _, r, term, trunc, _ = env.step(int(pol.randint(2)))
                    ret += r
                    length += 1
                    done = term or trunc
                rets.append(ret)
                lens.append(length)
        else:
            env = Environment(name)  # reference defaults: sticky 0.1, ramping, 6 actions
            env.seed(STAT_ENV_SEED)
            for _ in range(n):
                env.reset()
                ret, length, done = 0, 0, False
                while not done:
                    r, done = env.act(pol.randint(env.num_actions()))
                    ret += r
                    length += 1
                rets.append(ret)
                lens.append(length)
        rets, lens = np.array(rets, float), np.array(lens, float)
        row = (name, n, rets.mean(), rets.std(ddof=1), lens.mean(), lens.std(ddof=1))
        rows.append(row)
        print("%-15s %6d  return %.4f +- %.4f  length %.3f +- %.3f" % row, file=sys.stderr)
    for row in rows:
        out.write("%s %d %.6f %.6f %.6f %.6f\n" % row)


def header(what):
    return (f"# {what}\n"
            f"# Written by scripts/record_env_stats.py with minatar {version('minatar')}, "
            f"gymnasium {version('gymnasium')}, numpy {np.__version__}.\n")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default=os.path.join(root, "tests", "rl", "fixtures"))
    p.add_argument("--skip-stats", action="store_true", help="only write the traces")
    args = p.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    with open(os.path.join(args.out_dir, "reference_traces.txt"), "w") as out:
        out.write(header("Reference trajectories for tests/rl/test_reference_traces.cpp."))
        out.write(f"# Actions: splitmix64(policy_seed).next() % num_actions per step. MinAtar hash "
                  f"(every {HASH_INTERVAL} steps and at the end):\n"
                  "#   h = FNV offset; after reset and every step, for v in (sum of splitmix64(0) cell weights\n"
                  "#   over set cells of the (C,10,10) obs, reward + 1000, terminal): h = (h ^ v) * FNV prime.\n"
                  "# minatar game policy sticky ramping seed policy_seed episode max_steps length return terminal hashes...\n"
                  "# cartpole policy seed policy_seed episode length return terminated truncated, then obs t x x_dot theta theta_dot\n")
        minatar_traces(out)
        cartpole_traces(out)

    if not args.skip_stats:
        with open(os.path.join(args.out_dir, "random_policy_stats.txt"), "w") as out:
            out.write(header("Uniform-random-policy episode statistics of the reference environments."))
            out.write(f"# Env seed {STAT_ENV_SEED} (one seeded env, reset() between episodes), policy "
                      f"np.random.RandomState({STAT_POLICY_SEED}).randint(num_actions); MinAtar with its defaults\n"
                      "# (sticky_action_prob 0.1, difficulty_ramping, 6 actions); std is the sample std (ddof=1).\n"
                      "# env episodes mean_return std_return mean_length std_length\n")
            random_policy_stats(out)


if __name__ == "__main__":
    main()
