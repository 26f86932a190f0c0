"""The training-level cases: recurrent, convolution, embedding and layer-norm
modules and losses (values and gradients, parameters included), and optimizer
and learning-rate scheduler trajectories (values: the parameters and the
learning rate after each step)."""

from __future__ import annotations

import numpy as np

from .cases import Case


def _recurrent_case(kind: str, batch_first: bool, bidirectional: bool) -> Case:
    def module(m):
        return getattr(m.nn, kind)(3, 4, num_layers=2, batch_first=batch_first,
                                   bidirectional=bidirectional, dtype=m.float64)

    def fn(m, rnn, x):
        out, state = rnn(x)
        states = state if kind == "LSTM" else (state,)
        return m.cat([t.reshape(-1) for t in (out, *states)])

    name = f"{kind.lower()}{'-batch-first-bidirectional' if bidirectional else ''}"
    return Case(name, ((2, 5, 3),), fn, module=module, rtol=1e-9)


def _conv_pool_module(m):
    return m.nn.Sequential(m.nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2,
                                       dtype=m.float64),
                           m.nn.MaxPool2d(2, ceil_mode=True), m.nn.Flatten())


def _losses(m, logits, z):
    f = m.nn.functional
    logp = f.log_softmax(logits, 1)
    target = m.tensor(np.array([0, 3, 2, -100, 1, 1]))
    class_weight = m.tensor(np.array([0.5, 1.0, 1.5, 2.0]))
    y = m.tensor(np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0],
                           [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    pos_weight = m.tensor(np.array([0.5, 1.0, 2.0]))
    return m.stack([f.nll_loss(logp, target, weight=class_weight),
                    f.binary_cross_entropy(m.sigmoid(z), y),
                    f.binary_cross_entropy_with_logits(3 * z, y, pos_weight=pos_weight)])


def _trajectory(optimizer, scheduler):
    """Steps an optimizer on a copy of p0 with the given gradients; the rows of
    (parameters, learning rate) after each step and scheduler step."""
    def fn(m, p0, grads):
        w = p0.detach().clone().requires_grad_(True)
        opt = optimizer(m, w)
        sched = scheduler(m, opt)
        rows = []
        for g in grads:
            w.grad = g.clone()
            opt.step()
            sched.step()
            rows.append(m.cat([w.detach().clone(), m.tensor(np.array(sched.get_last_lr()))]))
        return m.stack(rows)
    return fn


TRAJECTORIES = {
    "rmsprop-cosine": (
        lambda m, w: m.optim.RMSprop([w], lr=0.03, momentum=0.5, centered=True,
                                     weight_decay=0.1),
        lambda m, o: m.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=0.001)),
    "adam-steplr": (
        lambda m, w: m.optim.Adam([w], lr=0.1, betas=(0.8, 0.95), weight_decay=0.05),
        lambda m, o: m.optim.lr_scheduler.StepLR(o, 2, 0.5)),
    "sgd-nesterov-lambdalr": (
        lambda m, w: m.optim.SGD([w], lr=0.7, momentum=0.9, weight_decay=0.01,
                                 nesterov=True),
        lambda m, o: m.optim.lr_scheduler.LambdaLR(o, lambda epoch: 0.9 ** epoch)),
}

TRAINING_CASES = [
    *[_recurrent_case(kind, batch_first, bidirectional)
      for kind in ("RNN", "LSTM", "GRU")
      for batch_first, bidirectional in ((False, False), (True, True))],
    Case("conv2d-maxpool-modules", ((2, 4, 7, 7),), lambda m, net, x: net(x),
         module=_conv_pool_module, rtol=1e-9),
    Case("embedding-module", (),
         lambda m, emb: emb(m.tensor(np.array([[2, 1, 6], [6, 2, 0]]))),
         module=lambda m: m.nn.Embedding(7, 3, padding_idx=2, dtype=m.float64)),
    Case("layer_norm", ((4, 2, 3), (2, 3), (2, 3)),
         lambda m, x, w, b: m.nn.functional.layer_norm(x, (2, 3), w, b), rtol=1e-9),
    Case("losses", ((6, 4), (5, 3)), _losses),
    *[Case(name, ((5,), (6, 5)), _trajectory(*make), differentiable=False, rtol=1e-9)
      for name, make in TRAJECTORIES.items()],
]
