"""`python -m operator_cli`, the same as the `meldespiegel` command."""

from operator_cli.main import run

if __name__ == "__main__":
    run()
