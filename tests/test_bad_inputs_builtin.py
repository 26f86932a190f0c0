"""Built-in exceptions raised on purpose (docs/errors.md, "Built-in exceptions"):
where the Python or PyTorch/TensorFlow convention is a plain TypeError,
ValueError, KeyError, ... Each test checks the type and message, then that
the objects involved still work.
"""

from __future__ import annotations

import numpy as np
from bad_inputs_util import documents, expect

import dyngraph as dg
import staticgraph as sg

B = "built-in exceptions"


@documents(B, "`dg.from_numpy` of something that is not an ndarray",
           "`len()` of a 0-d tensor")
def test_tensor_conversions():
    expect(TypeError, lambda: dg.from_numpy([1.0, 2.0]), "from_numpy", "list")
    expect(TypeError, lambda: len(dg.tensor(1.0)), "0-d")
    assert len(dg.from_numpy(np.ones(3))) == 3


@documents(B, "`dg.cat` / `dg.stack` of no tensors")
def test_cat_of_nothing():
    expect(ValueError, lambda: dg.cat([]), "cat: needs at least one tensor")
    expect(ValueError, lambda: dg.stack([]), "stack: needs at least one tensor")
    assert dg.cat([dg.ones(2), dg.ones(1)]).shape == (3,)


@documents(B, "a dyngraph optimizer with no parameters, or parameters that do not "
           "require grad")
def test_optimizer_parameters():
    expect(ValueError, lambda: dg.optim.SGD([], lr=0.1), "empty parameter list")
    expect(ValueError, lambda: dg.optim.SGD([dg.ones(2)], lr=0.1), "require grad")
    w = dg.tensor(np.ones(2), requires_grad=True)
    opt = dg.optim.SGD([w], lr=0.5)
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), 0.0)


class Net(dg.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = dg.nn.Linear(2, 1)

    def forward(self, x):
        return self.lin(x)


@documents(B, "a `Module` attribute set before `super().__init__()`, or a `Module` "
           "without `forward`")
def test_module_misuse():
    class Early(dg.nn.Module):
        def __init__(self) -> None:
            self.w = dg.nn.Parameter(np.ones(2))

    class NoForward(dg.nn.Module):
        pass

    expect(AttributeError, Early, "super().__init__()")
    expect(NotImplementedError, lambda: NoForward()(dg.ones(2)), "NoForward", "forward")
    assert Net()(dg.ones(3, 2)).shape == (3, 1)


@documents(B, "`load_state_dict` with other keys, or arrays of other shapes")
def test_load_state_dict_mismatch():
    net = Net()
    state = {k: np.array(v, copy=True) for k, v in net.state_dict().items()}
    before = net(dg.ones(1, 2)).detach().numpy()
    expect(KeyError, lambda: net.load_state_dict({"lin.weight": state["lin.weight"]}),
           "missing", "lin.bias")
    bad = dict(state, **{"lin.weight": np.ones((2, 2))})
    expect(ValueError, lambda: net.load_state_dict(bad), "lin.weight", "(2, 2)")
    np.testing.assert_array_equal(net(dg.ones(1, 2)).detach().numpy(), before)
    net.load_state_dict(state)


@documents(B, "a loss `reduction` other than 'mean', 'sum', 'none'")
def test_loss_reduction():
    x = dg.tensor(np.ones(3), requires_grad=True)
    expect(ValueError, lambda: dg.nn.functional.mse_loss(x, np.zeros(3), reduction="avg"),
           "'avg'")
    dg.nn.functional.mse_loss(x, np.zeros(3), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0)


@documents(B, "`nn.init` of something that is not a tensor, or fans of a tensor with "
           "fewer than 2 dims")
def test_init_misuse():
    expect(TypeError, lambda: dg.nn.init.zeros_(np.ones(2)), "dg.Tensor")
    expect(ValueError, lambda: dg.nn.init.xavier_uniform_(dg.ones(3)), "fewer than 2")
    t = dg.ones(2, 3)
    dg.nn.init.zeros_(t)
    np.testing.assert_array_equal(t.numpy(), 0.0)


@documents(B, "`sg.reset_default_graph()` inside `with graph.as_default():`")
def test_reset_default_graph_inside_a_scope():
    g = sg.Graph("scoped")
    with g.as_default():
        expect(RuntimeError, sg.reset_default_graph, "as_default")
        assert sg.get_default_graph() is g
    assert isinstance(sg.reset_default_graph(), sg.Graph)


@documents(B, "an unknown initializer name, or a shape with unknown dims")
def test_initializer_misuse():
    expect(ValueError, lambda: sg.initializers.get("gaussian"), "unknown initializer")
    expect(ValueError, lambda: sg.initializers.zeros()((None, 2)), "every dim must be known")
    np.testing.assert_array_equal(sg.initializers.get("ones")((2,)), 1.0)


@documents(B, "an `sg.layers.LSTMCell` built twice")
def test_lstm_cell_built_twice():
    g = sg.Graph("lstm")
    with g.as_default():
        cell = sg.layers.LSTMCell(3, input_size=2, dtype="float64")
        expect(ValueError, lambda: cell.build(2, "float64"), "already built")
        assert len(cell.variables) == 3 and len(g.variables) == 3


@documents(B, "`Saver.restore` of a file that does not exist")
def test_restore_of_a_missing_file(tmp_path):
    g = sg.Graph("saver")
    with g.as_default():
        w = sg.Variable(np.ones(2), name="w")
    with sg.Session(g) as sess:
        expect(FileNotFoundError, lambda: sg.train.Saver().restore(sess, tmp_path / "nope"),
               "no checkpoint file")
        np.testing.assert_array_equal(sess.get(w), 1.0)
