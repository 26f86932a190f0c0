"""`sg.train`: optimizers with `minimize()` and a `.npz` Saver (TF1's `tf.train`).

    train_op = sg.train.AdamOptimizer(1e-3).minimize(loss)
    for _ in range(steps):
        loss_value, _ = sess.run([loss, train_op], feed_dict)

See docs/training.md.
"""

from __future__ import annotations

from .optimizer import Optimizer
from .optimizers import AdamOptimizer, GradientDescentOptimizer, MomentumOptimizer
from .saver import CheckpointError, Saver

__all__ = ["Optimizer", "GradientDescentOptimizer", "MomentumOptimizer", "AdamOptimizer",
           "Saver", "CheckpointError", "RMSPropOptimizer", "latest_checkpoint"]
from .rmsprop import RMSPropOptimizer  # noqa: E402
from .saver import latest_checkpoint  # noqa: E402
