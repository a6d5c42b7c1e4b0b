"""``python -m bomguard``."""

from bomguard.cli import entry

if __name__ == "__main__":
    entry()
