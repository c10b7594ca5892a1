"""The API's request and response bodies (pydantic), as the OpenAPI schema shows them."""

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
)

from modeldistill.serve.config import ServeConfig
from modeldistill.text import BLANK_MESSAGE, is_blank, visible_pattern


class Result(BaseModel):
    label: str = Field(description="the most probable label")
    score: float = Field(description="probability of `label`")
    toxic: bool = Field(description="probability of the toxic label reached the model's threshold")
    scores: dict[str, float] = Field(description="probability of every label")
    truncated: bool = Field(
        description="the text was longer than one window of the model: it was read whole, "
        "sentence by sentence (in overlapping windows where a sentence is longer than a window), "
        "and its most toxic passage decided"
    )
    windows: int = Field(description="passages the text was read in (1: it fitted one window)")
    span: Annotated[list[int], Field(min_length=2, max_length=2)] | None = Field(
        description="[start, end) in characters of the deciding passage, in the text as prepared "
        "for the model (the text sent, unless the model's text preparation changes it); null "
        "when the text fitted one window"
    )
    passage: str | None = Field(
        description="the deciding passage's text; null when the text fitted one window"
    )


class ModelRef(BaseModel):
    name: str
    version: str


class PredictResponse(BaseModel):
    model: ModelRef
    results: list[Result] = Field(description="one result per text, in input order")


class LegacyResponse(BaseModel):
    label: Literal["Toxic", "Not Toxic"]
    confidence: float = Field(description="probability that the verdict is right")
    # Left out for a text that fitted one window, so such answers keep the original two keys.
    passage: str | None = Field(
        None,
        description="present only for a text longer than one window: the passage that decided",
    )


class Limits(BaseModel):
    max_texts: int
    max_chars: int
    max_body_bytes: int
    max_windows: int = Field(
        description="most passages one text is read in; a text that needs more gets 413"
    )


class Task(BaseModel):
    title: str | None = Field(description="what the model classifies, as export recorded it")
    positive_label: str | None = Field(description="the label whose probability decides")
    positive_meaning: str | None = Field(description="what the positive label means")
    hate_speech: bool = Field(description="the hate-speech task (the page's Toxic wording)")


class ReliabilityBin(BaseModel):
    low: float
    high: float
    count: int = Field(description="test texts whose P(positive label) fell in [low, high)")
    mean_predicted: float | None = None
    observed_rate: float | None = Field(
        None, description="share of those texts that were positive; null for an empty bin"
    )


class Calibration(BaseModel):
    temperature: float = Field(
        description="logits are divided by this (fitted on validation data); 1: not scaled"
    )
    split: str | None = Field(description="the split the figures below were measured on")
    ece: float = Field(description="expected calibration error of P(positive label)")
    ece_uncalibrated: float | None = Field(
        None, description="the same before temperature scaling, when a temperature was fitted"
    )
    reliability: list[ReliabilityBin] = Field(
        description="equal-width bins of P(positive label) with the observed positive rate"
    )


class ModelInfo(BaseModel):
    name: str
    version: str
    backend: str
    labels: list[str]
    toxic_label: str | None
    threshold: float
    max_length: int
    metrics: dict[str, Any] | None = Field(
        description="the model's test metrics (metrics.json), if shipped"
    )
    task: Task | None = Field(description="what the model decides, for the page's wording")
    calibration: Calibration | None = Field(
        description="how far the scores are probabilities; null when metrics.json has no "
        "calibration figures (the score is then an uncalibrated model score)"
    )
    limits: Limits


class Status(BaseModel):
    status: str


class ErrorBody(BaseModel):
    detail: str


class ValidationProblem(BaseModel):
    loc: list[str | int] = Field(description='where, e.g. ["body", "texts", 3]')
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    detail: list[ValidationProblem]


def not_blank(text: str) -> str:
    # The page and `modeldistill predict` refuse blank texts too: a score for nothing means nothing.
    if is_blank(text):
        raise ValueError(BLANK_MESSAGE)
    return text


def request_model(config: ServeConfig) -> type[BaseModel]:
    """The request body, with this server's limits written into its schema."""
    text = Annotated[
        str,
        StringConstraints(min_length=1, max_length=config.max_chars),
        AfterValidator(not_blank),
        Field(json_schema_extra={"pattern": visible_pattern()}),
    ]
    texts = Annotated[
        list[text],
        Field(min_length=1, max_length=config.max_texts, description="texts to classify"),
    ]
    return create_model(
        "PredictRequest",
        __config__=ConfigDict(strict=True, extra="forbid"),
        texts=(texts, ...),
    )
