"""bench.py's measurements, one family a module, so that each can be read, and trusted, apart from the
others and from the command line that chooses among them (bench.py stays the one entry point)."""
