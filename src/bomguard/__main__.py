"""``python -m bomguard``."""

from bomguard.cli import main

if __name__ == "__main__":
    main()
