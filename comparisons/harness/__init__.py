"""The measurement harness that `python -m comparisons` and `python -m benchmarks` share.

- `interleave`: the round-robin loop (one sample per competitor per round,
  the order rotated every round) and `interleaved` for plain callables;
- `workload`: the benchmarks' competitors on one workload (build + first
  call as setup, warm-up, calibrated samples, medians and spread);
- `variants`: the comparisons' variants of a scenario (setup phases and the
  first call accounted, step-by-step or closed-loop samples, kernels, tape
  nodes and peak memory of an instrumented pass), with `accounting` (the
  timing model: samples, recompiles, cumulative curves, break-even) and
  `instrument` (op counts and memory);
- `timing`: quartiles, spread, error and formatting helpers;
- `peers`: PyTorch (eager, torch.compile) and JAX jit, "not installed" when absent;
- `machine`: CPU model, cores, load, BLAS and library versions;
- `threads`: thread pinning of the math libraries.

The modules are imported by name (`from comparisons.harness import peers`);
this package imports none of them itself.
"""
