"""Classifier on tiny random models: backends agree, results are complete and in order, bad folders
are UserErrors. Run: pytest tests/test_inference.py"""

from __future__ import annotations

import json
import shutil
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from helpers import build_tiny_bert
from modeldistill.artifacts import read_inference, write_inference
from modeldistill.errors import UserError
from modeldistill.export.config import ExportConfig
from modeldistill.export.export import export_model
from modeldistill.export.onnx import STATIC_FORMAT
from modeldistill.inference.classifier import Classifier, Prediction, TextTooLong
from modeldistill.inference.samples import CALIBRATION_FALLBACK, CHECK_TEXTS
from modeldistill.paths import REPO_ROOT

# Fixed texts of many lengths, so batches hold padding and length sorting reorders them.
TEXTS = (
    CHECK_TEXTS
    + ["word " * n for n in range(1, 30)]
    + [f"the quick brown fox number {n} jumps" for n in range(20)]
)
# int8 may flip a label whose top two probabilities are close; on these 61 texts we accept 10%.
INT8_MIN_AGREEMENT = 0.9


def build_separated_bert(out_dir: Path) -> Path:
    """The tiny BERT with labels far apart: a random tiny BERT gives every text nearly the same
    pooled vector (probabilities ~0.25 each, so any rounding flips labels). Scaling the attention
    value/output weights ×20 makes the [CLS] vector depend on the text, and a head set to the
    pooled vectors' top 4 principal directions (whitened, ×4) spreads the logits across labels."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    build_tiny_bert(out_dir)
    model = AutoModelForSequenceClassification.from_pretrained(out_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if name.endswith(("attention.output.dense.weight", "attention.self.value.weight")):
                weight.mul_(20)
        pooled = model.bert(
            **tokenizer(CHECK_TEXTS, padding=True, return_tensors="pt")
        ).pooler_output
        mean = pooled.mean(0)
        _, singular, directions = torch.linalg.svd(pooled - mean, full_matrices=False)
        head = 4 * directions[:4] / (singular[:4, None] / len(CHECK_TEXTS) ** 0.5)
        model.classifier.weight.copy_(head)
        model.classifier.bias.copy_(-(head @ mean))
    model.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="module")
def exported(int8_export) -> Path:
    return int8_export


@pytest.fixture(scope="module")
def separated(tmp_path_factory) -> Path:
    source = build_separated_bert(tmp_path_factory.mktemp("separated-src"))
    out = tmp_path_factory.mktemp("separated") / "sep"
    return export_model(source, ExportConfig(out=out, int8=True))


def _probs(predictions: list[Prediction]) -> np.ndarray:
    return np.array([list(p.scores.values()) for p in predictions])


@pytest.mark.parametrize("model", ["exported", "separated"])
def test_onnx_fp32_matches_torch(model, request):
    folder = request.getfixturevalue(model)
    torch_probs = _probs(Classifier.load(folder, backend="torch").predict(TEXTS))
    for batch_size in (1, 32):
        onnx = Classifier.load(folder, backend="onnx", batch_size=batch_size)
        np.testing.assert_allclose(_probs(onnx.predict(TEXTS)), torch_probs, atol=1e-4)


def test_int8_agrees_with_fp32_on_labels(separated):
    reference = [p.label for p in Classifier.load(separated, backend="onnx").predict(TEXTS)]
    int8 = [p.label for p in Classifier.load(separated, backend="onnx-int8").predict(TEXTS)]
    assert len(Counter(reference)) >= 3, "the test model must spread texts over labels"
    agreement = np.mean([a == b for a, b in zip(reference, int8, strict=True)])
    assert agreement >= INT8_MIN_AGREEMENT


def test_auto_backend_prefers_int8_then_onnx_then_torch(exported, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(exported, folder)
    assert Classifier.load(folder).backend == "onnx-int8"
    (folder / "model.int8.onnx").unlink()
    assert Classifier.load(folder).backend == "onnx"
    (folder / "model.onnx").unlink()
    assert Classifier.load(folder).backend == "torch"
    with pytest.raises(UserError, match="model.onnx"):
        Classifier.load(folder, backend="onnx")


@pytest.fixture(scope="module")
def separated_dynamic(separated, tmp_path_factory) -> Path:
    """The separated model with the earlier dynamic int8 quantisation, which the parity contract
    must catch."""
    out = tmp_path_factory.mktemp("separated-dynamic") / "sep"
    source = Path(read_inference(separated).source_model)
    return export_model(source, ExportConfig(out=out, int8=True, quantization="dynamic"))


def _batch_parity(folder: Path, backend: str) -> float:
    """Largest change of any probability of a text between scoring it alone and inside batches
    of other companions, at other positions and with other padding widths."""
    single = Classifier.load(folder, backend=backend, batch_size=1)
    alone = _probs(single.predict(TEXTS))
    worst = 0.0
    rng = np.random.default_rng(0)
    for batch_size in (2, 7, 32, len(TEXTS)):
        batched = Classifier.load(folder, backend=backend, batch_size=batch_size)
        order = rng.permutation(len(TEXTS))
        got = np.empty_like(alone)
        got[order] = _probs(batched.predict([TEXTS[i] for i in order]))
        worst = max(worst, float(np.abs(got - alone).max()))
        # Also feed batches as given, unsorted: a long companion pads a short text further.
        for rows, feeds in batched.batches(batched.tokenize(TEXTS)):
            mixed = {key: np.roll(value, 1, axis=0) for key, value in feeds.items()}
            moved = np.roll(batched.probabilities(mixed), -1, axis=0)
            worst = max(worst, float(np.abs(moved - alone[rows]).max()))
    return worst


@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8"])
def test_scores_do_not_depend_on_the_batch(separated, backend):
    """The backend-parity contract: server micro-batches, predict on a file and the Ray engine
    all score through Classifier batches, so a verdict must not change with a text's batch."""
    assert _batch_parity(separated, backend) <= 1e-4


def test_dynamic_int8_breaks_the_batch_contract(separated_dynamic):
    # The contract's test can fail: per-batch activation scales move scores with the batch.
    assert _batch_parity(separated_dynamic, "onnx-int8") > 1e-4
    assert read_inference(separated_dynamic).checks["onnx-int8"].batch_difference > 1e-4


def test_static_int8_records_how_it_was_calibrated(separated):
    info = read_inference(separated)
    assert info.quantization.method == "static" and info.quantization.format == STATIC_FORMAT
    assert info.quantization.calibration_texts == len(CHECK_TEXTS) + len(CALIBRATION_FALLBACK)
    assert "CALIBRATION_FALLBACK" in info.quantization.calibration_source
    assert info.checks["onnx-int8"].batch_difference <= 1e-4


def test_predictions_are_complete_and_in_input_order(separated):
    classifier = Classifier.load(separated, backend="onnx", batch_size=4)
    info = read_inference(separated)
    assert classifier.labels == ["noHate", "hate", "idk/skip", "relation"]
    assert (classifier.name, classifier.version) == (info.name, info.version)
    assert classifier.threshold == 0.5 and classifier.metrics is None
    predictions = classifier.predict(TEXTS)
    assert len(predictions) == len(TEXTS)
    for p in predictions:
        assert set(p.scores) == set(classifier.labels)
        assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert p.label == max(p.scores, key=p.scores.get) and p.score == p.scores[p.label]
        assert p.toxic == (p.scores["hate"] >= 0.5)
        assert set(p.to_dict()) == {
            *("label", "score", "toxic", "scores", "truncated", "windows", "span", "passage")
        }
    # Each text alone gives the same result as inside a shuffled, length-sorted batch.
    order = np.random.default_rng(0).permutation(len(TEXTS))
    shuffled = classifier.predict([TEXTS[i] for i in order])
    for position, index in enumerate(order):
        assert shuffled[position].label == predictions[index].label
        assert shuffled[position].score == pytest.approx(predictions[index].score, abs=1e-5)
    assert classifier.predict([]) == []


def test_truncated_flag_and_max_length(exported):
    classifier = Classifier.load(exported, backend="onnx", max_length=16)
    long_text = "word " * 40
    short, long = classifier.predict(["a short text", long_text])
    assert not short.truncated and long.truncated
    # Only the first 16 tokens count: a text that differs after them scores the same.
    other = classifier.predict([long_text + "something else entirely"])[0]
    assert other.scores == pytest.approx(long.scores, abs=1e-6)
    assert not Classifier.load(exported).predict([long_text])[0].truncated  # 42 tokens <= 128


def test_threshold_and_metrics_come_from_the_folder(exported, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(exported, folder)
    info = read_inference(folder)
    for threshold, expected in ((0.0, True), (1.0, False)):
        write_inference(folder, info.model_copy(update={"threshold": threshold}))
        assert {p.toxic for p in Classifier.load(folder).predict(TEXTS)} == {expected}
    shutil.copyfile(
        REPO_ROOT / "models" / "hate_speech18" / "metrics.json", folder / "metrics.json"
    )
    shipped = json.loads((folder / "metrics.json").read_text())
    shipped.pop("format", None)  # the file's version, not a figure
    assert Classifier.load(folder).metrics == shipped
    # A hand-made or foreign metrics.json is refused by name, not served half-read.
    (folder / "metrics.json").write_text(json.dumps({"macro_f1": 0.5}))
    with pytest.raises(UserError, match="metrics.json is not a Metrics file"):
        Classifier.load(folder)


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_threads_get_the_same_results_as_one(exported, backend):
    classifier = Classifier.load(exported, backend=backend, batch_size=8)
    expected = _probs(classifier.predict(TEXTS))
    results: dict[int, np.ndarray] = {}

    def work(index: int) -> None:
        results[index] = _probs(classifier.predict(TEXTS[index:] + TEXTS[:index]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, probs in results.items():
        np.testing.assert_allclose(np.roll(probs, index, axis=0), expected, atol=1e-5)
    assert len(results) == 6


def test_bad_inputs_to_predict(exported):
    classifier = Classifier.load(exported)
    with pytest.raises(UserError, match="list of texts"):
        classifier.predict("one string")
    with pytest.raises(UserError, match="text 1 is a int"):
        classifier.predict(["fine", 3])


def _break(folder: Path, how: str) -> None:
    if how == "no config":
        (folder / "config.json").unlink()
    elif how == "no weights":
        for name in ("model.safetensors", "model.onnx", "model.int8.onnx"):
            (folder / name).unlink()
    elif how == "labels do not match head":
        config = json.loads((folder / "config.json").read_text())
        config["id2label"] = {"0": "noHate", "1": "hate"}
        config["label2id"] = {"noHate": 0, "hate": 1}
        (folder / "config.json").write_text(json.dumps(config))
    elif how == "corrupt onnx":
        (folder / "model.int8.onnx").write_bytes(b"not an onnx file")
    elif how == "unknown toxic label":
        write_inference(folder, read_inference(folder).model_copy(update={"toxic_label": "spam"}))


@pytest.mark.parametrize(
    ("how", "backend", "message"),
    [
        ("no config", "auto", "no config.json"),
        ("no weights", "auto", "no model weights"),
        ("labels do not match head", "torch", "2 labels but the classifier head"),
        ("labels do not match head", "onnx", "2 labels but model.onnx outputs 4"),
        ("corrupt onnx", "auto", "cannot load ONNX model"),
        ("unknown toxic label", "auto", "toxic_label 'spam'"),
    ],
)
def test_bad_folders_are_user_errors(exported, tmp_path, how, backend, message):
    folder = tmp_path / "broken"
    shutil.copytree(exported, folder)
    _break(folder, how)
    with pytest.raises(UserError, match=message):
        Classifier.load(folder, backend=backend)


def test_missing_folder_and_bad_backend(exported, tmp_path):
    with pytest.raises(UserError, match="not found"):
        Classifier.load(tmp_path / "nowhere")
    with pytest.raises(UserError, match="unknown backend"):
        Classifier.load(exported, backend="tensorrt")


LONG_SENTENCES = [
    f"Sentence number {n} says something about the weather in town." for n in range(40)
]


def test_a_long_text_is_read_whole_and_its_most_toxic_passage_decides(exported):
    classifier = Classifier.load(exported, backend="onnx")
    text = " ".join(LONG_SENTENCES)
    long, *alone = classifier.predict([text, *LONG_SENTENCES])
    assert long.truncated and long.windows == len(LONG_SENTENCES)  # one passage per sentence
    p_hate = [p.scores["hate"] for p in alone]
    # The text is as toxic as its most toxic sentence read alone, and that sentence is named.
    assert long.scores["hate"] == pytest.approx(max(p_hate), abs=1e-5)
    start, end = long.span
    assert text[start:end] == long.passage == LONG_SENTENCES[int(np.argmax(p_hate))]
    short = classifier.predict([LONG_SENTENCES[0]])[0]
    assert (short.truncated, short.windows, short.span, short.passage) == (False, 1, None, None)


def test_a_sentence_after_a_paragraph_is_read_as_it_is_alone(exported):
    from modeldistill.synthetic.obfuscate import padded

    classifier = Classifier.load(exported, backend="onnx")
    sentence = "Those people are the worst of all."
    (alone,) = classifier.predict([sentence])
    (after,) = classifier.predict([padded(sentence)])  # "... here is what I wanted to say: ..."
    assert after.truncated and after.scores["hate"] >= alone.scores["hate"] - 1e-5
    readings = classifier.windows([padded(sentence)])
    passages = [readings.texts[0][slice(*readings.span(w))] for w in range(readings.counts[0])]
    assert passages[-1] == sentence and not any(sentence in p for p in passages[:-1])


def test_sentences_end_at_marks_before_a_space_and_at_line_breaks():
    from modeldistill.inference.classifier import _sentences

    text = "Meet at 10:30; see x.org: fine.\n\n  Score 3.5 of 10!!! Next"
    found = list(_sentences(text))
    assert [s for _, s in found] == [
        "Meet at 10:30;",
        "see x.org:",
        "fine.",
        "Score 3.5 of 10!!!",
        "Next",
    ]
    assert all(text[start : start + len(s)] == s for start, s in found)
    assert list(_sentences("!" * 10_000)) == [(0, "!" * 10_000)]


def test_a_text_past_the_passage_limit_is_refused_by_name(exported):
    classifier = Classifier.load(exported, backend="onnx", max_windows=4)
    with pytest.raises(TextTooLong, match=r"text 1 needs \d+ passages .* at most 4"):
        classifier.predict(["short", " ".join(LONG_SENTENCES)])
    with pytest.raises(UserError, match="max_windows must be at least 1"):
        Classifier.load(exported, max_windows=0)
