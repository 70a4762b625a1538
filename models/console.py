"""The ``tinygrad-hw`` console script (pyproject.toml): ``python -m models`` from any folder."""

import sys

from models.threads import default_to_one_thread


def main(prog: str = "tinygrad-hw") -> int:
    """Pin BLAS to one thread, then run the command line (models/cli.py)."""
    default_to_one_thread()  # before the import below loads numpy
    try:
        from models.cli import main as cli_main
    except ModuleNotFoundError as error:
        if error.name != "matplotlib":
            raise
        print("error: the experiments draw their curves with matplotlib: "
              "pip install matplotlib (or pip install -e '.[plot]')", file=sys.stderr)  # fmt: skip
        return 2
    return cli_main(prog=prog)
