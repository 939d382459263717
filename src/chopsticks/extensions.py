"""Loading the optional compiled modules of _fast, with a one-line error saying how to build them."""
import importlib

from chopsticks.errors import ChopsticksError


def compiled(module: str, what: str, apt_packages: str):
    """chopsticks._fast.<module>, or ChopsticksError naming the Debian packages it is built with."""
    try:
        return importlib.import_module(f"chopsticks._fast.{module}")
    except ImportError as e:
        raise ChopsticksError(f"{what} is not built ({e}); apt-get install -y {apt_packages}, "
                              "then reinstall chopsticks (scripts/bootstrap)") from None
