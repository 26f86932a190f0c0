"""Differential fuzzing: random programs run by every engine and checked.

- `program`: the data structure (`Program`, `CallStep`, `CondStep`, `ScanStep`).
- `generate`: random programs (`generate_program`, the `programs` strategy).
- `execute`: runs a program with NumPy, dyngraph and staticgraph backends.
- `check`: values and gradients agree across engines and with finite differences.
- `printer`: a program as readable Python code.

Run the long fuzz with `make fuzz N=5000` (or `python -m fuzz` with tests/ on the path).
"""
