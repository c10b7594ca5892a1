"""The generated reports are what their committed figures render to: nobody edited a number by
hand, and a change to a template or a renderer shows up as a diff of docs/generalisation.md or
docs/results.md."""

from __future__ import annotations

import shutil
import sys

from helpers import load_script
from modeldistill.paths import REPO_ROOT

DOCS = REPO_ROOT / "docs"


def test_generalisation_report_renders_from_its_committed_figures(tmp_path, monkeypatch):
    report = load_script("generalisation_report")
    (tmp_path / "generalisation").mkdir()
    shutil.copy(DOCS / "generalisation" / "results.json", tmp_path / "generalisation")
    out = tmp_path / "generalisation.md"
    monkeypatch.setattr(sys, "argv", ["generalisation_report.py", "--from-json", "--out", str(out)])
    assert report.main() == 0
    assert out.read_text(encoding="utf-8") == (DOCS / "generalisation.md").read_text(
        encoding="utf-8"
    )


def test_results_report_renders_from_its_committed_figures(tmp_path, monkeypatch):
    summarize = load_script("summarize")
    (tmp_path / "results").mkdir()
    shutil.copy(DOCS / "results" / "results.json", tmp_path / "results")
    # The hand-written reading of the tables is read from beside the report, as in docs/.
    shutil.copy(DOCS / "results-notes.md", tmp_path)
    out = tmp_path / "results.md"
    monkeypatch.setattr(sys, "argv", ["summarize.py", "--from-json", "--out", str(out)])
    assert summarize.main() == 0
    assert out.read_bytes() == (DOCS / "results.md").read_bytes()
