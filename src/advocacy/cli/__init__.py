"""The `advocacy` command line: thin commands over the library."""
