"""``python -m wsolkit`` (and ``torchrun -m wsolkit``) run the command-line app."""

from wsolkit.cli import main

if __name__ == "__main__":
    main()
