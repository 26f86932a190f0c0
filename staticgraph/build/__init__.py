"""Building graphs: Symbols and the `bind` handler (`symbol`), the op library
on symbols (`ops`, `ops_tf1`), creation and random ops, state (Variables,
assignments), control flow (`cond`, `while_loop`) and `custom_gradient`."""
