"""Schemathesis over the app's own OpenAPI schema: generated requests, valid and invalid, to every
route must never get a 5xx, and every response must match the schema it documents.

    pytest tests/test_schema.py -q

schemathesis' `from_fixture` lazy loader breaks on pytest 9 (it reads a removed private
attribute), so each operation's Hypothesis strategy is driven by `@given` here instead.
"""

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="pip install schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.generation.modes import GenerationMode  # noqa: E402

from modeldistill.inference.classifier import Classifier  # noqa: E402
from modeldistill.serve import ServeConfig, create_app  # noqa: E402

OPERATIONS = [
    ("POST", "/api/v1/predict"),
    ("GET", "/predict"),
    ("GET", "/api/v1/model"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
]


@pytest.fixture(scope="module")
def api_schema(tiny_bert_dir):
    classifier = Classifier.load(tiny_bert_dir, backend="torch")
    # Small limits keep generated bodies (and so the run) small; the checks are the same.
    app = create_app(ServeConfig(model=tiny_bert_dir, max_texts=4, max_chars=200), classifier)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_schema_lists_every_route(api_schema):
    found = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


# Invalid input can only be made for the routes that take some.
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE) for m, p in OPERATIONS if p.endswith("predict")
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_api_conforms_to_its_schema(api_schema, method, path, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case):
        # All of schemathesis' checks: no 5xx, documented status codes, content types, headers
        # and bodies that match their schema, and invalid input refused with a 4xx.
        case.call_and_validate()

    check()
