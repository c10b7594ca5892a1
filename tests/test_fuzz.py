"""Property-based tests (hypothesis) of hostile input: the predict API answers 200 with a result or
4xx with a clear message, never 5xx; the file CLI writes exactly one output row per input row.

pytest tests/test_fuzz.py -q

Inputs: arbitrary Unicode (control characters, RTL marks, emoji, NUL), lone surrogates written as
JSON escapes in a raw body, very long words, whitespace-only texts, mixed-type JSON, raw bytes
that are not UTF-8. Examples are bounded (`max_examples`) so the file runs in well under a minute.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeldistill import cli
from modeldistill.serve import ServeConfig, create_app
from modeldistill.text import is_blank

MAX_TEXTS, MAX_CHARS = 8, 300  # small limits so both sides of each are reached often
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Every code point, surrogates included; plus the hand-picked troublemakers, drawn more often.
ANY_CHAR = st.characters(codec=None)
NASTY = st.sampled_from(
    ["\x00", "\u202e", "\u200f", "\u200b", "\ufeff", "\U0001f600", "\U0001f469\u200d\U0001f4bb",
     "\ud800", "\udfff", "\r", "\x1b[31m", "\u0301", "\uffff", "\U0010ffff", "\t", " "]
)  # fmt: skip
TEXT = st.lists(st.one_of(ANY_CHAR, NASTY), max_size=40).map("".join)
WHITESPACE = st.text(st.sampled_from(" \t\n\r\x0b\x0c\u00a0\u2028\u3000\u1680"), min_size=1)
LONG_WORD = st.builds(
    lambda c, n: c * n, st.characters(codec="utf-8"), st.integers(1, 2 * MAX_CHARS)
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=10,
)


@pytest.fixture(scope="module")
def int8_dir(int8_export) -> Path:
    return int8_export


@pytest.fixture(scope="module")
def client(int8_dir):
    app = create_app(ServeConfig(model=int8_dir, max_texts=MAX_TEXTS, max_chars=MAX_CHARS))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def is_text(value) -> bool:
    """What the API promises to score: a string of real Unicode within the limit, not blank."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= MAX_CHARS
        and not is_blank(value)
        and not any("\ud800" <= char <= "\udfff" for char in value)
    )


def post_raw(client, body: bytes):
    return client.post(
        "/api/v1/predict", content=body, headers={"content-type": "application/json"}
    )


def check_answer(response, texts=None) -> None:
    """200 with one finite, normalised result per text, or a 4xx that says what is wrong."""
    assert response.status_code < 500, response.text[:500]
    body = response.json()
    if response.status_code == 200:
        if texts is not None:
            assert len(body["results"]) == len(texts)
        for result in body.get("results", [body]):
            scores = result.get("scores", {"confidence": result.get("confidence")})
            assert all(isinstance(p, float) and math.isfinite(p) for p in scores.values())
        return
    assert 400 <= response.status_code < 500
    detail = body["detail"]
    if isinstance(detail, list):  # validation: each item names the field and the problem
        assert detail and all(item["msg"] and item["loc"] for item in detail), detail
    else:
        assert isinstance(detail, str) and detail


@FUZZ
@given(texts=st.lists(st.one_of(TEXT, WHITESPACE, LONG_WORD), max_size=MAX_TEXTS + 2))
def test_api_scores_exactly_the_valid_text_lists(client, texts):
    # ensure_ascii writes every non-ASCII character, lone surrogates included, as a \\uXXXX escape.
    response = post_raw(client, json.dumps({"texts": texts}, ensure_ascii=True).encode())
    check_answer(response, texts)
    valid = 1 <= len(texts) <= MAX_TEXTS and all(map(is_text, texts))
    assert (response.status_code == 200) == valid, (response.status_code, response.text[:300])
    if not valid:
        assert response.status_code == 422


@FUZZ
@given(body=JSON_VALUES)
def test_api_never_fails_on_mixed_type_json(client, body):
    check_answer(post_raw(client, json.dumps(body).encode()))
    check_answer(post_raw(client, json.dumps({"texts": body}).encode()))


@FUZZ
@given(body=st.binary(max_size=200))
def test_api_never_fails_on_raw_bytes(client, body):
    check_answer(post_raw(client, body))
    check_answer(post_raw(client, b'{"texts": ["' + body + b'"]}'))


@FUZZ
@given(text=st.one_of(TEXT, WHITESPACE, LONG_WORD))
def test_legacy_route_never_fails(client, text):
    # surrogatepass: a lone surrogate travels as the bytes a careless client would send.
    query = quote(text.encode("utf-8", "surrogatepass"), safe="")
    check_answer(client.get(f"/predict?search={query}"))


# ---- the file CLI ------------------------------------------------------------------------------

# A line of a .txt/.jsonl file: any bytes but the line break (so the expected count is known).
RAW_LINE = st.binary(max_size=60).map(lambda b: b.replace(b"\n", b""))
HOSTILE_TEXT_BYTES = st.one_of(TEXT, WHITESPACE, LONG_WORD).map(
    lambda t: t.encode("utf-8", "surrogatepass").replace(b"\n", b" ")
)
TXT_LINE = st.one_of(RAW_LINE, HOSTILE_TEXT_BYTES)
JSONL_LINE = st.one_of(
    RAW_LINE,
    st.builds(
        lambda text, ascii_only: json.dumps({"text": text}, ensure_ascii=ascii_only).encode(
            "utf-8", "surrogatepass"
        ),
        st.one_of(TEXT, WHITESPACE, LONG_WORD),
        st.booleans(),
    ),
    st.builds(lambda value: json.dumps({"text": value}).encode(), JSON_VALUES),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
)


def csv_record(text: str) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerow([text, "x"])
    return buffer.getvalue().encode("utf-8", "surrogatepass")


# A .csv record: a properly quoted hostile text, or raw bytes that cannot open a quoted field.
CSV_RECORD = st.one_of(
    st.one_of(TEXT, WHITESPACE, LONG_WORD).map(csv_record),
    RAW_LINE.map(lambda b: b.translate(None, b'"\r') + b"\r\n"),
)


def output_rows(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def run_cli(int8_dir: Path, folder: Path, name: str, data: bytes, output: str) -> list[dict]:
    source, target = folder / name, folder / output
    source.write_bytes(data)
    code = cli.main(
        ["predict", "--model", str(int8_dir), "--input", str(source), "--output", str(target)]
        + ["--no-resume", "--chunk-size", "3"]  # several chunks per file
    )
    assert code == 0
    return output_rows(target)


def check_rows(rows: list[dict], expected: int) -> None:
    assert len(rows) == expected
    assert [int(row["row"]) for row in rows] == list(range(1, expected + 1))
    for row in rows:
        scored, failed = row["label"] not in (None, ""), row["error"] not in (None, "")
        assert scored != failed, row  # every row is either a prediction or says why not


@settings(FUZZ, max_examples=25)
@given(
    lines=st.lists(TXT_LINE, max_size=8),
    trailing=st.booleans(),
    output=st.sampled_from(["o.jsonl", "o.csv"]),
)
def test_cli_txt_writes_one_row_per_line(int8_dir, tmp_path_factory, lines, trailing, output):
    data = b"".join(line + b"\n" for line in lines)
    if not trailing and lines and lines[-1]:
        data = data[:-1]  # a last line without its line break is still a line (unless empty)
    rows = run_cli(int8_dir, tmp_path_factory.mktemp("txt"), "in.txt", data, output)
    check_rows(rows, len(lines))
    for line, row in zip(lines, rows, strict=True):
        try:
            text = line.removeprefix(b"\xef\xbb\xbf" if row is rows[0] else b"").decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not is_blank(text.rstrip("\r")):  # decodable and not blank: it must have been scored
            assert row["label"] not in (None, ""), row


@settings(FUZZ, max_examples=25)
@given(lines=st.lists(JSONL_LINE, max_size=8), output=st.sampled_from(["o.jsonl", "o.csv"]))
def test_cli_jsonl_writes_one_row_per_line(int8_dir, tmp_path_factory, lines, output):
    data = b"".join(line + b"\n" for line in lines)
    rows = run_cli(int8_dir, tmp_path_factory.mktemp("jsonl"), "in.jsonl", data, output)
    check_rows(rows, len(lines))


@settings(FUZZ, max_examples=25)
@given(records=st.lists(CSV_RECORD, max_size=8), output=st.sampled_from(["o.jsonl", "o.csv"]))
def test_cli_csv_writes_one_row_per_record(int8_dir, tmp_path_factory, records, output):
    data = b"text,other\r\n" + b"".join(records)
    rows = run_cli(int8_dir, tmp_path_factory.mktemp("csv"), "in.csv", data, output)
    check_rows(rows, len(records))


def test_lone_surrogates_are_refused_by_name_not_by_the_tokenizer(int8_dir, tmp_path):
    # Found by the jsonl property above: `{"text": "\ud800"}` crashed the CLI inside tokenizers.
    from modeldistill.errors import UserError
    from modeldistill.inference.classifier import Classifier

    with pytest.raises(UserError, match="text 1 holds a lone surrogate"):
        Classifier.load(int8_dir).predict(["fine", "bad \ud800 text"])
    data = b'{"text": "bad \\ud800"}\n{"text": "fine"}\n'
    rows = run_cli(int8_dir, tmp_path, "in.jsonl", data, "o.jsonl")
    assert "lone surrogates" in rows[0]["error"] and rows[1]["label"]
    assert cli.main(["predict", "--model", str(int8_dir), "bad \udcff argv"]) == 2
