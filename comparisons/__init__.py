"""comparisons: the same models written for both engines, run side by side.

Scenarios are importable (`from comparisons import tutorial`); the command
line is `python -m comparisons` (or `graphcompare`).
"""
