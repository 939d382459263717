"""chopsticks 0.x's `chopsticks.utils` package, kept for the module path scenarios import from."""
