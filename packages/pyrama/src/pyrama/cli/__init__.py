"""pyrama command-line tool."""


def main() -> None:
    """Entry point."""
