"""The ``napari-medseg`` command line: the same headless core as the widgets, for batch work.

Each subcommand lives in its own module of this package and exposes ``add_parser(subparsers)`` and
``run(args) -> int``. Bad input raises :class:`~napari_medseg.errors.MedsegError`: one line on stderr,
exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from napari_medseg.errors import MedsegError

SUBCOMMANDS = ("segment", "precompute", "bench", "demo")


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a single line, like every other bad-input path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="napari-medseg", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"napari_medseg.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"napari_medseg.cli.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except MedsegError as exc:
        print(f"napari-medseg: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("napari-medseg: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
