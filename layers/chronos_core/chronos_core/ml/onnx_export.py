"""Export a trained network to ONNX from its weights (no TensorFlow, no tf2onnx).

LSTM and GRU are standard ONNX operators, so the export is a weight re-layout:

- Keras LSTM gates are ordered ``i, f, c, o`` in ``kernel (in, 4u)``, ``recurrent_kernel
  (u, 4u)`` and ``bias (4u,)``; ONNX wants ``i, o, f, c`` as ``W (1, 4u, in)``, ``R (1, 4u, u)``
  and ``B (1, 8u)`` (input bias, then a zero recurrent bias).
- Keras 3 GRU (``reset_after=True``) orders gates ``z, r, h`` like ONNX, keeps separate input and
  recurrent biases ``bias (2, 3u)``, and applies the reset gate after the recurrent matmul, which is
  ONNX's ``linear_before_reset=1``.

The graph takes ``x: float32 (batch, L, F)`` and returns ``y: float32 (batch, H)``; ``batch`` is
dynamic, so evaluation and serving run the same model. Only :mod:`onnx` (a training-side
dependency) is imported, lazily; the inference side needs only ``onnxruntime``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from chronos_core.ml.network import NetworkSpec

OPSET = 17
IR_VERSION = 8
INPUT_NAME = "x"
OUTPUT_NAME = "y"


def _lstm_reorder(a: npt.NDArray[Any], axis: int) -> npt.NDArray[Any]:
    i, f, c, o = np.split(a, 4, axis=axis)
    return np.concatenate([i, o, f, c], axis=axis)


def export_onnx(spec: NetworkSpec, weights: Sequence[npt.NDArray[Any]]) -> bytes:
    """Serialized ONNX model for ``spec`` with Keras-ordered ``weights`` (see :mod:`network`)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if len(weights) != spec.weight_count:
        raise ValueError(f"expected {spec.weight_count} weight arrays, got {len(weights)}")
    w = [np.asarray(a, dtype=np.float32) for a in weights]
    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, value: npt.NDArray[Any]) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    nodes.append(helper.make_node("Transpose", [INPUT_NAME], ["x_tm"], perm=[1, 0, 2]))
    current = "x_tm"  # time-major (L, batch, features)
    pos = 0
    n_rnn = len(spec.rnn_units)
    squeeze_seq = const("axes_1", np.array([1], dtype=np.int64))
    squeeze_dir = const("axes_0", np.array([0], dtype=np.int64))
    hidden = ""
    for i, units in enumerate(spec.rnn_units):
        kernel, recurrent, bias = w[pos], w[pos + 1], w[pos + 2]
        pos += 3
        last = i == n_rnn - 1
        y_name, h_name = (f"rnn{i}_y", "") if not last else ("", f"rnn{i}_h")
        if spec.model_type == "lstm":
            big_w = _lstm_reorder(kernel, 1).T[None]
            big_r = _lstm_reorder(recurrent, 1).T[None]
            big_b = np.concatenate([_lstm_reorder(bias, 0), np.zeros(4 * units, np.float32)])[None]
            attrs: dict[str, Any] = {"hidden_size": units}
            op = "LSTM"
        else:
            big_w = kernel.T[None]
            big_r = recurrent.T[None]
            if bias.ndim == 2:  # reset_after=True: (input bias, recurrent bias)
                big_b = np.concatenate([bias[0], bias[1]])[None]
                attrs = {"hidden_size": units, "linear_before_reset": 1}
            else:
                big_b = np.concatenate([bias, np.zeros(3 * units, np.float32)])[None]
                attrs = {"hidden_size": units, "linear_before_reset": 0}
            op = "GRU"
        inputs = [current, const(f"rnn{i}_W", big_w), const(f"rnn{i}_R", big_r), const(f"rnn{i}_B", big_b)]
        outputs = [y_name, h_name] if last else [y_name]
        nodes.append(helper.make_node(op, inputs, outputs, name=f"rnn{i}", **attrs))
        if not last:
            current = f"rnn{i}_seq"
            nodes.append(helper.make_node("Squeeze", [y_name, squeeze_seq], [current]))  # (L, batch, u)
        else:
            hidden = f"rnn{i}_last"
            nodes.append(helper.make_node("Squeeze", [h_name, squeeze_dir], [hidden]))  # (batch, u)

    layers = [(d.units, d.activation) for d in spec.dense] + [(spec.horizon, "linear")]
    for j, (_units, activation) in enumerate(layers):
        kernel, bias = w[pos], w[pos + 1]
        pos += 2
        is_head = j == len(layers) - 1
        tag = "head" if is_head else f"dense{j}"
        mm = f"{tag}_mm"
        nodes.append(helper.make_node("MatMul", [hidden, const(f"{tag}_kernel", kernel)], [mm]))
        pre = OUTPUT_NAME if is_head else f"{tag}_pre"
        nodes.append(helper.make_node("Add", [mm, const(f"{tag}_bias", bias)], [pre]))
        hidden = pre if is_head else _activation(nodes, const, pre, activation, tag)

    graph = helper.make_graph(
        nodes,
        "chronos_forecaster",
        [
            helper.make_tensor_value_info(
                INPUT_NAME, TensorProto.FLOAT, ["batch", spec.lookback, spec.n_features]
            )
        ],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", spec.horizon])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        producer_name="chronos",
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        doc_string=spec.model_dump_json(),
    )
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def _activation(nodes: list[Any], const: Any, name: str, activation: str, tag: str) -> str:
    """Append the nodes of ``activation`` applied to ``name``; return the output name."""
    from onnx import helper

    out = f"{tag}_act"
    if activation == "linear":
        return name
    simple = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}
    if activation in simple:
        nodes.append(helper.make_node(simple[activation], [name], [out]))
    elif activation == "elu":
        nodes.append(helper.make_node("Elu", [name], [out], alpha=1.0))
    elif activation == "selu":
        nodes.append(helper.make_node("Selu", [name], [out], alpha=1.67326324, gamma=1.05070098))
    elif activation == "swish":
        nodes.append(helper.make_node("Sigmoid", [name], [f"{tag}_sig"]))
        nodes.append(helper.make_node("Mul", [name, f"{tag}_sig"], [out]))
    elif activation == "gelu":  # Keras' exact (erf) form: 0.5 x (1 + erf(x / sqrt 2))
        sqrt2 = const(f"{tag}_sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
        one = const(f"{tag}_one", np.array(1.0, dtype=np.float32))
        half = const(f"{tag}_half", np.array(0.5, dtype=np.float32))
        nodes.append(helper.make_node("Div", [name, sqrt2], [f"{tag}_d"]))
        nodes.append(helper.make_node("Erf", [f"{tag}_d"], [f"{tag}_erf"]))
        nodes.append(helper.make_node("Add", [f"{tag}_erf", one], [f"{tag}_p1"]))
        nodes.append(helper.make_node("Mul", [name, f"{tag}_p1"], [f"{tag}_xm"]))
        nodes.append(helper.make_node("Mul", [f"{tag}_xm", half], [out]))
    else:  # pragma: no cover - the config's Literal forbids it
        raise ValueError(f"unsupported activation {activation!r}")
    return out
