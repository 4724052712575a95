"""Data made here, for the tests and the benchmarks alike: Bengali digits rendered from the system's
fonts, pen strokes traced from them and synthetic scribbles, and the corpus of bad requests. Nothing
in it is read from ../shared: a fresh clone has all of it."""
