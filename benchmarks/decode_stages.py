"""Where the simulated user's decode time goes: every step's own time per interaction. Prints numbers.

    .venv/bin/python benchmarks/decode_stages.py [--threads 2] [--rounds 3] [--size 512]

The sequences are ``bench_builtin_speed.py``'s (five interactions of each prompt type through the
Session on a CT liver, an MR white matter and an MR brain of the development phantoms, scaled to
``--size`` px). Each module-level step that ``models/builtin/model.py`` calls (the guided filter,
the correction rules, the extension, the edge fill, ...), the decoder network and the model's own
``decode_relative`` / ``_decode_once`` / ``_after_network`` are timed by a wrapper inside the
decodes (``decode`` calls ``decode_relative``), not in the encoder; a step's time excludes the steps
it calls, so the rows add up to the decodes' total. A step that runs rarely but
long shows as a small mean with few calls per interaction: read both columns. The wrappers cost a
few microseconds a call; the total is a little above ``bench_builtin_speed.py``'s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_builtin_speed  # noqa: E402  (this folder's script: its simulated user's sequences)
import napari_medseg.models.builtin.model as builtin_model  # noqa: E402
from napari_medseg.models.builtin.model import BuiltinModel, load_builtin  # noqa: E402


class StageClock:
    """Exclusive wall time per named callable: a stack of the running calls' inner time."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._inner: list[float] = []

    def wrap(self, name: str, fn: Callable, root: bool = False) -> Callable:
        """``root``: a decode; the other steps are timed only inside one (not in an encode)."""
        def timed(*args, **kwargs):
            if not root and not self._inner:
                return fn(*args, **kwargs)
            start = time.perf_counter()
            self._inner.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.perf_counter() - start
                inner = self._inner.pop()
                self.seconds[name] += spent - inner
                self.calls[name] += 1
                if self._inner:
                    self._inner[-1] += spent
        return timed

    def clear(self) -> None:
        self.seconds.clear()
        self.calls.clear()


def instrument(model: BuiltinModel, clock: StageClock) -> None:
    """Wrap the steps ``model.py`` calls (its module's functions from napari_medseg), the decoder
    network and the model's own stages. For this process only: the script's model is thrown away."""
    for name in dir(builtin_model):
        fn = getattr(builtin_model, name)
        if (callable(fn) and not isinstance(fn, type)
                and getattr(fn, "__module__", "").startswith("napari_medseg")):
            setattr(builtin_model, name, clock.wrap(name, fn))
    model.net.decoder.forward = clock.wrap("decoder network", model.net.decoder.forward)
    for name in ("decode_relative", "_decode_once", "_after_network"):
        setattr(BuiltinModel, name, clock.wrap(f"model.{name} (own)", getattr(BuiltinModel, name),
                                               root=name == "decode_relative"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--rounds", type=int, default=3, help="runs of the sequences after one warm-up run")
    p.add_argument("--size", type=int, default=512)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_builtin()
    clock = StageClock()
    instrument(model, clock)
    bench_builtin_speed.simulated_user_decodes(model, args.size)  # warm-up
    clock.clear()
    interactions = 0
    for _ in range(args.rounds):
        times = bench_builtin_speed.simulated_user_decodes(model, args.size)
        interactions += sum(len(v) for v in times.values())
    total = sum(clock.seconds.values())
    print(f"model {model.identity}; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"load average {os.getloadavg()[0]:.1f}; {interactions} interactions at {args.size} px")
    print(f"{'step':40s} {'ms per interaction':>18s} {'share':>6s} {'calls per interaction':>22s}")
    for name, seconds in sorted(clock.seconds.items(), key=lambda kv: -kv[1]):
        if seconds / total < 0.002:
            continue
        print(f"{name:40s} {1e3 * seconds / interactions:18.2f} {seconds / total:6.1%} "
              f"{clock.calls[name] / interactions:22.2f}")
    print(f"{'total':40s} {1e3 * total / interactions:18.2f}")


if __name__ == "__main__":
    main()
