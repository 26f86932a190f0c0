"""Scenario "lstm": the RNN scenario (`comparisons.rnn`) with an LSTM cell.

Same task, data stream and variants; only the cell differs (gates i, f, g, o
packed along one 4*hidden axis, as in torch.nn.LSTM).
"""

from __future__ import annotations

from .rnn import make_scenario

SCENARIO = make_scenario("lstm", "lstm", order=4, lr=0.1)
run = SCENARIO.run
