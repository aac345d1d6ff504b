"""Helpers shared by the engine tests: the op table, random graphs, error comparison."""
