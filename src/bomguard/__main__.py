"""``python -m bomguard``."""

from bomguard._cli import main

if __name__ == "__main__":
    main()
