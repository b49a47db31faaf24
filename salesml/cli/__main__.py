"""``python -m salesml.cli``: the command line."""

from salesml.cli import main

main()
