"""Average the weights of two readers of one lineage (a later stage and the model it started from):

    python training/average_readers.py training/runs/stage2 training/runs/sq2mix/final --weight 0.9 \
        --out training/runs/shipped-mix/final

Writes ``weight * LATER + (1 - weight) * EARLIER`` as a Hugging Face folder, with the later one's tokenizer and
training record (``training.json``), noting the average, so that ``export_reader.py --run`` exports it and its
card lists every stage. The shipped model is such an average (training/README.md says why).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def average(earlier: Path, later: Path, weight: float, out: Path) -> None:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    model = AutoModelForQuestionAnswering.from_pretrained(later)
    start = AutoModelForQuestionAnswering.from_pretrained(earlier).state_dict()
    model.load_state_dict({name: weight * value + (1 - weight) * start[name] if value.is_floating_point() else value
                           for name, value in model.state_dict().items()})  # fmt: skip
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(later).save_pretrained(out)
    record = json.loads((later / "training.json").read_text())
    record["note"] = (f"Shipped: the average {weight:g} x this stage's weights + {1 - weight:g} x its start's "
                      "(training/average_readers.py).")  # fmt: skip
    (out / "training.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("earlier", type=Path, help="the model the later stage started from (a Hugging Face folder)")
    parser.add_argument("later", type=Path, help="the later stage's model")
    parser.add_argument("--weight", type=float, default=0.9, help="the later model's share, in (0, 1]")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not 0 < args.weight <= 1:
        parser.error("--weight must be in (0, 1]")
    average(args.earlier, args.later, args.weight, args.out)


if __name__ == "__main__":
    main()
