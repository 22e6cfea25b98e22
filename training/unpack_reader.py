"""Turn the shipped reader (qa/models/reader/model.onnx, int8) back into a Hugging Face model folder, so that
training can go on from it when its PyTorch checkpoint is gone (checkpoints are not kept in git):

    python training/unpack_reader.py training/runs/shipped
    python training/train_reader.py --base training/runs/shipped --run training/runs/more --start-step 2000 ...

Every weight is dequantized ((q - zero point) * scale, per block for MatMulNBits); the MatMul weights that the ONNX export stored
transposed and under generated names are matched to their layer by the name of the node that uses them. The
architecture is the base model's (all-MiniLM-L6-v2) with its span head. The float weights are the int8 ones:
the round trip costs what quantization cost (MODEL.md: about 1 point of best F1), which further training
recovers.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "training"))
from train_reader import default_base_model  # noqa: E402

SHIPPED = ROOT / "qa" / "models" / "reader" / "model.onnx"
# "/m/bert/encoder/layer.0/attention/self/query/MatMul..." -> "bert.encoder.layer.0.attention.self.query"
_MATMUL_OUTPUT = re.compile(r"^/m/(.+)/MatMul_output")


def dequantized_weights(onnx_path: Path) -> dict[str, np.ndarray]:
    """The model's state dict (names as in transformers), float32, from the quantized ONNX graph."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    tensors = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    weights: dict[str, np.ndarray] = {}
    for name, value in tensors.items():
        if name.endswith(("_scale", "_zero_point", "_scales", "_Q8")):
            continue
        if name.endswith("_quantized"):
            stem = name.removesuffix("_quantized")
            value = (value.astype(np.float32) - tensors[stem + "_zero_point"].astype(np.float32)) * tensors[
                stem + "_scale"
            ]
            name = stem
        weights[name] = value.astype(np.float32)
    state: dict[str, np.ndarray] = {}
    for node in graph.node:  # the MatMul weights: x @ W in ONNX is a Linear with weight W.T
        if not (match := _MATMUL_OUTPUT.match(node.output[0])):
            continue
        layer = match.group(1).replace("/", ".") + ".weight"
        if node.op_type == "MatMulNBits":  # W.T in blocks of the K axis: [N, K / block, block], one scale a block
            blocks = tensors[node.input[1]].astype(np.float32) - 128  # 8 bits, symmetric: zero point 128
            state[layer] = (blocks * tensors[node.input[2]][..., None]).reshape(blocks.shape[0], -1)
        elif (
            node.op_type in ("MatMulInteger", "MatMul")
            and (stem := node.input[1].removesuffix("_quantized")) in weights
        ):
            state[layer] = weights.pop(stem).T
    state.update((name.removeprefix("m."), value) for name, value in weights.items())
    return state


def unpack(out: Path, onnx_path: Path = SHIPPED, base: str | None = None) -> None:
    import torch
    from transformers import AutoModelForQuestionAnswering

    base = base or default_base_model()
    model = AutoModelForQuestionAnswering.from_pretrained(base)
    state = {name: torch.from_numpy(value) for name, value in dequantized_weights(onnx_path).items()}
    expected = {k for k in model.state_dict() if not k.endswith("position_ids")}
    if missing := expected - set(state):
        raise SystemExit(f"the ONNX graph lacks these weights: {sorted(missing)[:5]}")
    model.load_state_dict(state, strict=False)
    model.save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (Path(base) / name).exists():
            shutil.copy(Path(base) / name, out / name)
    if (onnx_path.parent / "training.json").is_file():  # how the model was trained: the next stage's card lists it
        shutil.copy(onnx_path.parent / "training.json", out / "training.json")
    print(f"wrote {out} ({len(state)} tensors from {onnx_path})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder for the Hugging Face model")
    parser.add_argument("--onnx", type=Path, default=SHIPPED, help="the quantized ONNX reader")
    args = parser.parse_args(argv)
    unpack(args.out, args.onnx)


if __name__ == "__main__":
    main()
