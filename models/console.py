"""The ``tinygrad-hw`` console script (pyproject.toml): ``python -m models`` from any folder."""

from models.threads import default_to_one_thread


def main() -> int:
    """Pin BLAS to one thread, then run the command line (models/cli.py)."""
    default_to_one_thread()  # before the import below loads numpy
    from models.cli import main as cli_main

    return cli_main(prog="tinygrad-hw")
