"""End-to-end tests: the real bot process against the local Bot API emulator."""
