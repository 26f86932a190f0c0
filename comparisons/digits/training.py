"""The digits models: scikit-learn's 8x8 handwritten digits, an MLP and a small CNN.

The data ship inside scikit-learn (1,797 images, no download). Every variant
gets the same seeded split, the same initial weights and the same sequence of
minibatches, and trains with plain SGD on the mean softmax cross-entropy, so
the loss curves agree across engines. Test accuracy is computed once, after
the timed steps, from each variant's final weights by one NumPy forward pass
(`accuracy`), so it cannot differ by how a variant evaluates.

Models (`Size.model`):
- "mlp": 64 -> hidden (ReLU) -> 10.
- "cnn": conv 3x3, `channels` filters, padding 1 (ReLU) -> 2x2 max pool ->
  linear to 10. NCHW images, OIHW filters (PyTorch's layouts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import dyngraph as dg
import staticgraph as sg

from ..framework import Prepared


@dataclass(frozen=True)
class Size:
    """What `--set` takes for the digits scenarios."""

    batch: int = 64
    hidden: int = 64
    channels: int = 8
    steps: int = 300
    lr: float = 0.1
    seed: int = 0


QUICK = Size(steps=60)


@dataclass
class Problem:
    """The seeded split, the minibatch order and the initial weights."""

    size: Size
    dtype: np.dtype
    model: str
    x_train: np.ndarray
    y_train: np.ndarray  # one-hot
    x_test: np.ndarray
    labels_test: np.ndarray
    order: np.ndarray  # (steps, batch) indices into the training set
    init: dict[str, np.ndarray]

    def batch(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Images and one-hot labels of minibatch `step` (cycling past the end)."""
        idx = self.order[step % len(self.order)]
        return self.x_train[idx], self.y_train[idx]


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(images scaled to [0, 1], shape (n, 64); integer labels) from scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError("the digits scenarios need scikit-learn, which ships the data: "
                          "pip install 'graphcompare[digits]'") from exc
    data = load_digits()
    return data.data / 16.0, data.target.astype(np.int64)


def make_problem(size: Size, dtype: np.dtype, model: str) -> Problem:
    x, labels = load_digits_arrays()
    rng = np.random.default_rng(size.seed)
    perm = rng.permutation(len(x))
    n_test = len(x) // 5
    test, train = perm[:n_test], perm[n_test:]
    onehot = np.eye(10)[labels]
    if model == "cnn":
        x = x.reshape(-1, 1, 8, 8)
    rounds = -(-size.steps * size.batch // len(train))
    order = np.concatenate([rng.permutation(len(train)) for _ in range(rounds)])
    order = order[: size.steps * size.batch].reshape(size.steps, size.batch)
    return Problem(size, np.dtype(dtype), model, x[train].astype(dtype),
                   onehot[train].astype(dtype), x[test].astype(dtype), labels[test], order,
                   init_weights(size, dtype, model, rng))


def init_weights(size: Size, dtype, model: str, rng) -> dict[str, np.ndarray]:
    """He-initialised weights, zero biases."""
    if model == "mlp":
        shapes = {"w1": (64, size.hidden), "b1": (size.hidden,), "w2": (size.hidden, 10),
                  "b2": (10,)}
        fan_in = {"w1": 64, "w2": size.hidden}
    else:
        flat = size.channels * 16
        shapes = {"w1": (size.channels, 1, 3, 3), "b1": (size.channels,), "w2": (flat, 10),
                  "b2": (10,)}
        fan_in = {"w1": 9, "w2": flat}
    return {k: (rng.standard_normal(s) * np.sqrt(2.0 / fan_in[k]) if k in fan_in
                else np.zeros(s)).astype(dtype) for k, s in shapes.items()}


NAMES = ("w1", "b1", "w2", "b2")


def _np_conv_pool(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """relu(conv3x3(x, w, pad 1) + b), max-pooled 2x2, flattened to (n, C*16)."""
    n = len(x)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
    z = np.einsum("ncijkl,ockl->noij", windows, w) + b[None, :, None, None]
    h = np.maximum(z, 0)
    pooled = h.reshape(n, h.shape[1], 4, 2, 4, 2).max(axis=(3, 5))
    return pooled.reshape(n, -1)


def logits_numpy(problem: Problem, weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The model's logits by NumPy, for any model (used for test accuracy)."""
    w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
    x = np.asarray(x, dtype=np.float64)
    if problem.model == "mlp":
        h = np.maximum(x @ w["w1"] + w["b1"], 0)
    else:
        h = _np_conv_pool(x, w["w1"], w["b1"])
    return h @ w["w2"] + w["b2"]


def accuracy(problem: Problem, weights: dict[str, np.ndarray]) -> float:
    """Share of test images whose largest logit is the right digit."""
    predicted = logits_numpy(problem, weights, problem.x_test).argmax(axis=1)
    return float((predicted == problem.labels_test).mean())


def prepared(problem: Problem, step, weights) -> Prepared:
    """A Prepared whose row gets the test accuracy of the final weights."""
    losses: list[float] = []

    def timed_step() -> None:
        losses.append(step(len(losses)))
    return Prepared(timed_step, values=lambda: losses,
                    extra={"test_acc": lambda: accuracy(problem, weights())})


# ---- NumPy by hand (MLP) ---------------------------------------------------

def numpy_setup(problem: Problem) -> Prepared:
    """Forward and backward written out in NumPy (the MLP's reference)."""
    w = {k: v.copy() for k, v in problem.init.items()}
    lr = problem.size.lr

    def step(i: int) -> float:
        x, y = problem.batch(i)
        z1 = x @ w["w1"] + w["b1"]
        h = np.maximum(z1, 0)
        logits = h @ w["w2"] + w["b2"]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss = -(y * log_p).sum() / len(x)
        d_logits = (np.exp(log_p) - y) / len(x)
        d_z1 = (d_logits @ w["w2"].T) * (z1 > 0)
        grads = {"w2": h.T @ d_logits, "b2": d_logits.sum(0), "w1": x.T @ d_z1,
                 "b1": d_z1.sum(0)}
        for k in NAMES:
            w[k] -= lr * grads[k]
        return float(loss)
    return prepared(problem, step, lambda: w)


# ---- dyngraph ----------------------------------------------------------------

def dyngraph_logits(problem: Problem, x, w: dict):
    if problem.model == "mlp":
        h = (x.mm(w["w1"]) + w["b1"]).relu()
    else:
        z = dg.conv2d(x, w["w1"], w["b1"], padding=1).relu()
        h = dg.max_pool2d(z, 2).reshape(len(x), -1)
    return h.mm(w["w2"]) + w["b2"]


def dyngraph_setup(problem: Problem) -> Prepared:
    """Eager autograd: the tape is recorded and walked every step."""
    w = {k: dg.tensor(v.copy(), requires_grad=True) for k, v in problem.init.items()}
    lr = problem.size.lr

    def step(i: int) -> float:
        x, y = problem.batch(i)
        logits = dyngraph_logits(problem, dg.tensor(x), w)
        loss = -(dg.tensor(y) * logits.log_softmax(1)).sum() / len(x)
        loss.backward()
        with dg.no_grad():
            for t in w.values():
                t -= lr * t.grad
                t.grad.zero_()
        return float(loss.item())
    return prepared(problem, step, lambda: {k: t.detach().numpy() for k, t in w.items()})


# ---- staticgraph ---------------------------------------------------------------

def static_setup(problem: Problem, backend: str) -> Prepared:
    """One graph: loss, symbolic gradients and the SGD assigns; run once per step."""
    graph = sg.Graph()
    with graph.as_default():
        shape = (None, 64) if problem.model == "mlp" else (None, 1, 8, 8)
        x = sg.placeholder(shape, problem.dtype, name="images")
        y = sg.placeholder((None, 10), problem.dtype, name="labels")
        w = {k: sg.Variable(v.copy(), name=k) for k, v in problem.init.items()}
        if problem.model == "mlp":
            h = sg.relu(x @ w["w1"] + w["b1"])
        else:
            filters = sg.transpose(w["w1"], (2, 3, 1, 0))  # OIHW -> TF's HWIO
            z = sg.nn.conv2d(x, filters, 1, [[1, 1], [1, 1]], data_format="NCHW")
            z = sg.relu(z + sg.reshape(w["b1"], (1, -1, 1, 1)))
            pooled = sg.nn.max_pool(z, 2, 2, "VALID", data_format="NCHW")
            h = sg.reshape(pooled, (-1, problem.size.channels * 16))
        logits = h @ w["w2"] + w["b2"]
        loss = -sg.reduce_sum(y * sg.log_softmax(logits, axis=1)) / problem.size.batch
        grads = sg.gradients(loss, [w[k] for k in NAMES])
        train = sg.group(*[sg.assign_sub(w[k], problem.size.lr * g)
                           for k, g in zip(NAMES, grads)])
    sess = sg.Session(graph, backend=backend)

    def step(i: int) -> float:
        xb, yb = problem.batch(i)
        value, _ = sess.run([loss, train], {x: xb, y: yb})
        return float(value)
    return prepared(problem, step, lambda: {k: sess.get(v) for k, v in w.items()})


# ---- peers -----------------------------------------------------------------------

def torch_setup(problem: Problem, torch) -> Prepared:
    """PyTorch eager, the same model and updates."""
    F = torch.nn.functional
    w = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in problem.init.items()}
    lr = problem.size.lr

    def step(i: int) -> float:
        xb, yb = problem.batch(i)
        x, y = torch.from_numpy(xb), torch.from_numpy(yb)
        if problem.model == "mlp":
            h = F.relu(x @ w["w1"] + w["b1"])
        else:
            h = F.max_pool2d(F.relu(F.conv2d(x, w["w1"], w["b1"], padding=1)), 2)
            h = h.reshape(len(xb), -1)
        loss = -(y * F.log_softmax(h @ w["w2"] + w["b2"], dim=1)).sum() / len(xb)
        loss.backward()
        with torch.no_grad():
            for t in w.values():
                t -= lr * t.grad
                t.grad.zero_()
        return float(loss.item())
    return prepared(problem, step, lambda: {k: t.detach().numpy() for k, t in w.items()})


def jax_setup(problem: Problem, jax) -> Prepared:
    """JAX jit of the whole training step (MLP)."""
    jnp, lr = jax.numpy, problem.size.lr

    def loss_fn(w, x, y):
        h = jnp.maximum(x @ w["w1"] + w["b1"], 0)
        return -(y * jax.nn.log_softmax(h @ w["w2"] + w["b2"], axis=1)).sum() / x.shape[0]

    @jax.jit
    def train_step(w, x, y):
        loss, g = jax.value_and_grad(loss_fn)(w, x, y)
        return loss, {k: w[k] - lr * g[k] for k in w}

    state = {"w": {k: jnp.asarray(v) for k, v in problem.init.items()}}

    def step(i: int) -> float:
        loss, state["w"] = train_step(state["w"], *problem.batch(i))
        return float(loss)
    prep = prepared(problem, step, lambda: {k: np.asarray(v) for k, v in state["w"].items()})
    prep.compile_on_first_call = True
    return prep
