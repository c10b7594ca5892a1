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
        description="the text was longer than the model reads; only its start was scored"
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


class Limits(BaseModel):
    max_texts: int
    max_chars: int
    max_body_bytes: int


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
