"""The behavioural check: its generator, its disjointness from the training templates, the CLI."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from modeldistill.check.run import CheckConfig, friendly_group_fpr, run_check
from modeldistill.cli import main
from modeldistill.data.sources.build import duplicate_key
from modeldistill.errors import UserError
from modeldistill.synthetic import training_frames as training
from modeldistill.synthetic.cases import check_sentences
from modeldistill.synthetic.check_frames import CASES, SPELLING_CASE, VARIANT_SOURCES
from modeldistill.synthetic.generate import VARIANT_NAMES, needs_group
from modeldistill.synthetic.identity import IDENTITIES, mentioned_groups
from modeldistill.synthetic.identity_contrast_frames import (
    CONTRAST_PAIRS,
    IDENTITY_CONTRAST_CASES,
    generate_identity_contrast_rows,
)
from modeldistill.synthetic.identity_frames import (
    IDENTITY_TRAINING_CASES,
    generate_identity_training_rows,
)
from modeldistill.synthetic.identity_heldout_frames import (
    IDENTITY_HELDOUT_CASES,
    generate_identity_heldout_rows,
)
from modeldistill.synthetic.identity_more_frames import (
    IDENTITY_MORE_CASES,
    MORE_ADJECTIVES,
    MORE_NOUNS,
    WIDER_ADJECTIVES,
    WIDER_NOUNS,
    generate_identity_more_rows,
)
from modeldistill.synthetic.lexicon import GROUPS, NO_GROUP
from modeldistill.synthetic.support_frames import SUPPORT_CASES
from modeldistill.synthetic.training_frames import TRAINING_CASES, generate_training_rows

_MARK = re.compile(r"\[([^\]]+)\]")
IDENTITY_KEYS = {identity.key for identity in IDENTITIES}
ALL_CASES = {**CASES, **SUPPORT_CASES}
# Every source of training frames written in this repository.
TRAINED_CASES = (
    TRAINING_CASES,
    IDENTITY_TRAINING_CASES,
    IDENTITY_MORE_CASES,
    IDENTITY_CONTRAST_CASES,
)


def test_every_template_yields_its_expected_label_for_every_group():
    sentences = check_sentences()
    for case, (label, frames) in CASES.items():
        produced = [s for s in sentences if s.case == case]
        assert {s.label for s in produced} == {label}
        for frame in frames:
            from_frame = [s for s in produced if s.frame == frame]
            expected_groups = {g.key for g in GROUPS} if needs_group(frame) else {NO_GROUP}
            assert {s.group for s in from_frame} == expected_groups


def test_identity_cases_yield_their_label_for_every_identity_group():
    sentences = check_sentences()
    for case, (label, frames) in SUPPORT_CASES.items():
        assert case not in CASES and len(frames) >= 5
        produced = [s for s in sentences if s.case == case]
        assert {s.label for s in produced} == {label}
        for frame in frames:
            assert "{slur}" not in frame and needs_group(frame)
            assert {s.group for s in produced if s.frame == frame} == IDENTITY_KEYS
    for sentence in sentences:
        if sentence.case in SUPPORT_CASES:
            # the lexicon finds the group a sentence was filled with
            assert sentence.group in mentioned_groups(sentence.text), sentence.text


def test_groups_are_filled_and_marks_removed():
    for sentence in check_sentences():
        assert not re.search(r"[{}\[\]]", sentence.text), sentence.text
        assert sentence.text[0] == sentence.text[0].upper()
    muslims = [s.text for s in check_sentences() if s.group == "muslims" and s.case == "derogation"]
    assert "Muslims are disgusting." in muslims


def test_spelling_variants_are_hateful_misspellings_of_every_kind():
    sentences = check_sentences()
    variants = [s for s in sentences if s.case == SPELLING_CASE]
    originals = {(s.frame, s.group): s.text for s in sentences if s.case in VARIANT_SOURCES}
    assert variants and all(s.label == "hate" for s in variants)
    assert {s.variant for s in variants} == set(VARIANT_NAMES)
    for variant in variants:
        original = originals[(variant.frame, variant.group)]
        assert variant.text != original
        if variant.variant == "missing spaces":
            assert " " not in variant.text and variant.text == original.replace(" ", "")
    assert any(s.text == "All Black people are w0r7hl355." for s in variants)


def test_check_covers_each_case_type_and_group():
    counts = Counter(s.case for s in check_sentences())
    assert set(counts) == {*ALL_CASES, SPELLING_CASE}
    groups = Counter(s.group for s in check_sentences() if s.group != NO_GROUP)
    assert set(groups) == IDENTITY_KEYS
    # the original groups have the original case types too; every other group as many as each other
    original = {g.key for g in GROUPS}
    assert len({n for key, n in groups.items() if key in original}) == 1
    assert len({n for key, n in groups.items() if key not in original}) == 1


def _hateful_words(cases) -> set[str]:
    words = set()
    for _label, frames in cases.values():
        for frame in frames:
            words |= {m.lower() for m in _MARK.findall(frame) if "{" not in m}
    return words


@pytest.mark.parametrize(
    ("cases", "generate"),
    [
        (TRAINING_CASES, generate_training_rows),
        (IDENTITY_TRAINING_CASES, generate_identity_training_rows),
        (IDENTITY_MORE_CASES, generate_identity_more_rows),
        (IDENTITY_CONTRAST_CASES, generate_identity_contrast_rows),
    ],
    ids=["templates", "identity_templates", "identity_templates_more", "contrast"],
)
def test_training_templates_are_disjoint_from_the_check(cases, generate):
    # compared as duplicate_key sees them: case, spacing and punctuation do not make a frame new
    check_frames = {duplicate_key(frame) for _, frames in ALL_CASES.values() for frame in frames}
    training_frames = {duplicate_key(frame) for _, frames in cases.values() for frame in frames}
    assert not check_frames & training_frames
    training_words = {*MORE_ADJECTIVES, *MORE_NOUNS}
    for name in ("ADJECTIVES", "NOUNS", "THREATS"):
        training_words |= set(getattr(training, name))
    assert not _hateful_words(ALL_CASES) & training_words
    check_texts = {duplicate_key(sentence.text) for sentence in check_sentences()}
    assert not check_texts & {duplicate_key(row.text) for row in generate()}


def _word_runs(frame: str, length: int = 4) -> set[str]:
    """Every run of `length` words of a frame with at most one slot in it."""
    words = re.findall(r"\{[a-z]+\}|[a-z']+", frame.lower())
    runs = (words[i : i + length] for i in range(len(words) - length + 1))
    return {" ".join(run) for run in runs if sum(w.startswith("{") for w in run) <= 1}


def test_held_out_identity_frames_share_nothing_with_training_or_the_check():
    # a held-out frame that a training source also uses would make validation as easy as the
    # identity templates' own validation rows, which every model clears alike
    trained = {duplicate_key(f) for cases in TRAINED_CASES for _, fs in cases.values() for f in fs}
    checked = {duplicate_key(frame) for _, frames in ALL_CASES.values() for frame in frames}
    held_out = {duplicate_key(f) for _, frames in IDENTITY_HELDOUT_CASES.values() for f in frames}
    assert not held_out & trained and not held_out & checked

    # nor four words in a row: "every single one of the {group} is {adj}" beside a training
    # frame "every single one of those {group} is [{adj}]" is the same sentence to a model
    def runs(*cases):
        return {
            run for c in cases for _, frames in c.values() for f in frames for run in _word_runs(f)
        }

    elsewhere = runs(*TRAINED_CASES, ALL_CASES)
    for _, frames in IDENTITY_HELDOUT_CASES.values():
        for frame in frames:
            assert not _word_runs(frame) & elsewhere, frame
    assert not _hateful_words(IDENTITY_HELDOUT_CASES) & _hateful_words(ALL_CASES)
    texts = {duplicate_key(row.text) for row in generate_identity_heldout_rows()}
    for generate in (
        generate_training_rows,
        generate_identity_training_rows,
        generate_identity_more_rows,
        generate_identity_contrast_rows,
    ):
        assert not texts & {duplicate_key(row.text) for row in generate()}
    assert not texts & {duplicate_key(sentence.text) for sentence in check_sentences()}


@pytest.mark.parametrize(
    "generate",
    [
        generate_identity_training_rows,
        generate_identity_more_rows,
        generate_identity_contrast_rows,
        generate_identity_heldout_rows,
    ],
)
def test_identity_templates_cover_every_group_on_both_sides(generate):
    rows = generate()
    assert rows == generate()
    for label in ("hate", "not_hate"):
        assert {r.group for r in rows if r.label == label} == IDENTITY_KEYS
    assert not any(re.search(r"[{}\[\]]", r.text) for r in rows)


def test_contrast_pairs_differ_only_in_the_deciding_words():
    # both halves of a pair get the same group and the same hateful words, so that neither the
    # group nor the hateful word can tell the model which half it reads
    rows = generate_identity_contrast_rows(seed=5, fills=1)
    hateful = [r for r in rows if r.label == "hate"]
    harmless = [r for r in rows if r.label == "not_hate"]
    assert (
        len(hateful) == len(harmless) == sum(map(len, CONTRAST_PAIRS.values())) * len(IDENTITY_KEYS)
    )
    slots = {*training.THREATS, *WIDER_ADJECTIVES, *WIDER_NOUNS}
    pairs_with_words = 0
    for hate_row, harmless_row in zip(hateful, harmless, strict=True):
        assert hate_row.group == harmless_row.group
        used = {w for w in slots if re.search(rf"\b{re.escape(w)}\b", hate_row.text.lower())}
        pairs_with_words += bool(used)
        for word in used:
            assert re.search(rf"\b{re.escape(word)}\b", harmless_row.text.lower()), (
                hate_row.text,
                harmless_row.text,
            )
    assert pairs_with_words > len(hateful) // 2


def test_training_rows_are_seeded_and_labelled():
    first, again = generate_training_rows(seed=3), generate_training_rows(seed=3)
    assert [r.text for r in first] == [r.text for r in again]
    assert {r.label for r in first} == {"hate", "not_hate"}
    assert {r.group for r in first} >= {g.key for g in GROUPS}
    assert not any(re.search(r"[{}\[\]]", r.text) for r in first)


def test_check_scores_a_model_and_reports_every_case_and_group(tiny_bert_dir):
    from modeldistill.inference.classifier import Classifier

    classifier = Classifier.load(tiny_bert_dir, backend="torch")
    result = run_check(
        classifier, CheckConfig(min_accuracy=0, min_case_accuracy=0, max_group_gap=1)
    )
    assert result.passed and result.num_cases == len(check_sentences())
    assert set(result.cases) == {*ALL_CASES, SPELLING_CASE}
    assert set(result.groups) == IDENTITY_KEYS
    assert list(result.bias.groups) == [identity.key for identity in IDENTITIES]
    muslims = [row for row in result.sentences if row["group"] == "muslims"]
    assert result.bias.groups["muslims"].mentions == len(muslims)
    right = sum(row["right"] for row in result.sentences)
    assert result.accuracy == pytest.approx(right / result.num_cases)
    assert result.friendly_fpr == friendly_group_fpr(result.sentences)
    assert set(result.friendly_fpr) == IDENTITY_KEYS
    # A sentence is flagged exactly when its P(hate) reaches the model's threshold.
    for row in result.sentences:
        assert (
            row["flagged"] == (row["p_hate"] >= round(classifier.threshold, 6) - 1e-6)
            or abs(row["p_hate"] - classifier.threshold) < 1e-5
        )


def test_check_cli_exits_non_zero_when_a_target_is_missed(tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "check.json"
    # A random model cannot reach 99% of the cases right.
    assert main(["check", str(tiny_bert_dir), "--min-accuracy", "0.99", "--out", str(out)]) == 1
    report = capsys.readouterr().out
    assert "missed: accuracy" in report and "spelling variants" in report
    assert "polite hate" in report and "bias per identity group" in report
    saved = json.loads(out.read_text())
    assert not saved["passed"] and len(saved["sentences"]) == saved["num_cases"]
    args = ["check", str(tiny_bert_dir), "--min-accuracy", "0", "--min-case-accuracy", "0"]
    assert main([*args, "--max-group-gap", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["passed"] is True


def test_friendly_group_fpr_counts_only_friendly_sentences_that_name_a_group():
    sentences = [
        {"case": "support and equal rights", "group": "deaf", "flagged": True},
        {"case": "own identity", "group": "deaf", "flagged": False},
        {"case": "derogation", "group": "deaf", "flagged": True},
        {"case": "facts and news", "group": "jews", "flagged": False},
        {"case": "profanity without a target", "group": "none", "flagged": True},
    ]
    assert friendly_group_fpr(sentences) == {"deaf": 0.5, "jews": 0.0}


def test_check_lists_exactly_the_sentences_it_got_wrong(tiny_bert_dir, tmp_path, capsys):
    out = tmp_path / "check.json"
    main(["check", str(tiny_bert_dir), "--no-obfuscation", "--misses", "--out", str(out)])
    listing = capsys.readouterr().out.split("\n\n")[-1]
    wrong = [row for row in json.loads(out.read_text())["sentences"] if not row["right"]]
    assert wrong, "a random model gets some sentences wrong"
    listed = [line.split("  ", 2)[2] for line in listing.splitlines() if line.startswith("  ")]
    assert sorted(listed) == sorted(row["text"] for row in wrong)
    for case in {row["case"] for row in wrong}:
        count = sum(row["case"] == case for row in wrong)
        assert f"{case} ({count} wrong, expected " in listing
    # with --json they are part of the one JSON document printed
    main(["check", str(tiny_bert_dir), "--no-obfuscation", "--misses", "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert [row["text"] for row in printed["misses"]] == [row["text"] for row in wrong]


def test_check_refuses_bad_targets_and_models_without_hate(tmp_path, capsys):
    assert main(["check", str(tmp_path), "--min-accuracy", "2"]) == 2
    assert "--min-accuracy must be in [0, 1]" in capsys.readouterr().err
    with pytest.raises(UserError):
        CheckConfig(max_group_gap=-0.1)


def test_every_obfuscation_rewrites_every_sentence_and_keeps_its_label():
    from modeldistill.synthetic.obfuscate import (
        OBFUSCATIONS,
        obfuscated_sentences,
        plain_sentences,
    )

    plain = plain_sentences()
    variants = obfuscated_sentences()
    labels = {text: label for text, label, _ in plain}
    assert Counter(v.obfuscation for v in variants) == {name: len(plain) for name in OBFUSCATIONS}
    assert all(v.text != v.plain and v.label == labels[v.plain] for v in variants)
    shown = {(v.obfuscation, v.plain): v.text for v in variants}
    text = "Muslims are disgusting."
    assert shown["fullwidth", text] == "Ｍｕｓｌｉｍｓ ａｒｅ ｄｉｓｇｕｓｔｉｎｇ．"
    assert shown["circled", text] == "Ⓜⓤⓢⓛⓘⓜⓢ ⓐⓡⓔ ⓓⓘⓢⓖⓤⓢⓣⓘⓝⓖ."
    assert shown["bidi override, reversed storage", text] == "\u202e.gnitsugsid era smilsuM\u202c"
    # The one-word obfuscations change the word that carries the hate.
    assert shown["letter spacing, one word", text] == "Muslims are d i s g u s t i n g."
    assert shown["leetspeak, one word", text] == "Muslims are d15gu571ng."
    assert shown["after ~150 tokens of harmless text", text].endswith(" " + text)


def test_deobfuscation_undoes_the_character_obfuscations_of_every_sentence():
    from modeldistill.synthetic.obfuscate import WHOLE_SENTENCE, obfuscated_sentences
    from modeldistill.text import deobfuscate

    for variant in obfuscated_sentences():
        if variant.obfuscation in WHOLE_SENTENCE or variant.obfuscation == "leetspeak, one word":
            assert deobfuscate(variant.text) == variant.plain, variant


def test_training_data_is_not_made_with_the_check_obfuscator():
    from modeldistill.synthetic.obfuscate import obfuscated_sentences

    # Only the check may import the obfuscator.
    package = Path(training.__file__).parents[1]
    users = {
        path.relative_to(package).parts[0]
        for path in package.rglob("*.py")
        if "synthetic.obfuscate" in path.read_text(encoding="utf-8")
    }
    assert users == {"check"}
    obfuscated = {v.text.lower() for v in obfuscated_sentences()}
    assert not obfuscated & {row.text.lower() for row in generate_training_rows()}


def test_obfuscation_targets_are_relative_to_the_plain_sentences():
    from modeldistill.artifacts import BatchInvariance, ObfuscationScore
    from modeldistill.check.obfuscation import obfuscation_failures

    def score(recall, fpr):
        return ObfuscationScore(recall=recall, false_positive_rate=fpr, hateful=10, harmless=10)

    steady = BatchInvariance(texts=10, batch_size=32, flips=0, max_probability_difference=0.0)
    plain = score(0.8, 0.1)
    assert obfuscation_failures({"plain": plain, "a": score(0.76, 0.12)}, steady) == []
    missed = obfuscation_failures({"plain": plain, "a": score(0.75, 0.13)}, steady)
    assert len(missed) == 2 and "recall" in missed[0] and "false-positive" in missed[1]
    flipped = steady.model_copy(update={"flips": 1})
    assert obfuscation_failures({"plain": plain}, flipped)[0].startswith("batch invariance")


def test_the_obfuscation_section_counts_only_when_required(tiny_bert_dir):
    from modeldistill.artifacts import CheckSummary
    from modeldistill.check.obfuscation import PLAIN
    from modeldistill.check.run import format_report
    from modeldistill.inference.classifier import Classifier
    from modeldistill.synthetic.obfuscate import OBFUSCATIONS, plain_sentences

    classifier = Classifier.load(tiny_bert_dir, backend="torch")
    lenient = {"min_accuracy": 0, "min_case_accuracy": 0, "max_group_gap": 1}
    result = run_check(classifier, CheckConfig(**lenient))
    assert list(result.obfuscations) == [PLAIN, *OBFUSCATIONS]
    assert result.obfuscations[PLAIN].hateful + result.obfuscations[PLAIN].harmless == len(
        plain_sentences()
    )
    assert result.batch_invariance.texts == len(plain_sentences())
    assert result.passed and result.obfuscation_passed == (not result.obfuscation_failures)
    assert "batch invariance:" in format_report(result)
    required = run_check(classifier, CheckConfig(**lenient, require_obfuscation=True))
    assert required.failures == required.obfuscation_failures
    assert required.passed == (not required.obfuscation_failures)
    # A check.json written before the section existed still reads.
    old = result.to_dict()
    for key in ("obfuscations", "batch_invariance", "obfuscation_failures", "obfuscation_passed"):
        del old[key]
    assert CheckSummary.model_validate(old).obfuscations is None
