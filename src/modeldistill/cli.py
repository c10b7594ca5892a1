"""The `modeldistill` command: one subcommand per stage, each in its stage's `cli` module.

Only the chosen stage's cli module is imported, so `modeldistill --help` answers at once and a
stage's heavy imports (torch, onnxruntime) are paid only by the stage that needs them. A cli module
provides a flags function (`add_arguments(parser)`) and an entry point (`main(args) -> int`); the
train stage's holds two commands, `train` and `run`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from modeldistill import __version__
from modeldistill.errors import UserError, missing_extra

# command -> (module, its flags function, its entry point, summary). Only the chosen command's
# module is imported, and each imports its heavy libraries after the flags are read.
STAGES: dict[str, tuple[str, str, str, str]] = {
    "data": (
        "modeldistill.data.cli",
        "add_arguments",
        "main",
        "load a dataset, split it, print split sizes and per-class counts",
    ),
    "train": (
        "modeldistill.train.cli",
        "add_arguments",
        "main",
        "train one model: fine-tune a teacher, distil a student, or LoRA",
    ),
    "evaluate": (
        "modeldistill.evaluate.cli",
        "add_arguments",
        "main",
        "score a model folder on a split: F1s, confusion matrix, size",
    ),
    "run": (
        "modeldistill.train.cli",
        "add_run_arguments",
        "run_main",
        "the whole experiment: teacher, odd/even students, LoRA, report",
    ),
    "check": (
        "modeldistill.check.cli",
        "add_arguments",
        "main",
        "behavioural check: hate a moderator must catch, and what must not be flagged",
    ),
    "export": (
        "modeldistill.export.cli",
        "add_arguments",
        "main",
        "write safetensors, ONNX and int8 ONNX with a model card",
    ),
    "predict": (
        "modeldistill.predict.cli",
        "add_arguments",
        "main",
        "classify texts from the command line or a file",
    ),
    "bench": (
        "modeldistill.inference.cli",
        "add_arguments",
        "main",
        "measure latency and throughput per backend and batch size",
    ),
    "serve": (
        "modeldistill.serve.server",
        "add_arguments",
        "main",
        "start the web page and JSON API",
    ),
}


def _usage() -> str:
    width = max(map(len, STAGES))
    lines = [
        f"usage: modeldistill <command> [options]   (modeldistill {__version__})",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {summary}" for name, (*_, summary) in STAGES.items()]
    lines += ["", "Run `modeldistill <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] == "--version":
        print(__version__)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in STAGES:
        print(f"modeldistill: error: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, add_arguments, entry_point, summary = STAGES[command]
    # Library chatter (tokenizer fork warnings, hub lookups) would drown the stage's own output.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(
        level=os.environ.get("MODELDISTILL_LOG_LEVEL", "WARNING"), format="%(message)s"
    )
    try:
        module = importlib.import_module(module_name)
        parser = argparse.ArgumentParser(prog=f"modeldistill {command}", description=summary)
        getattr(module, add_arguments)(parser)
        args = parser.parse_args(rest)
        return int(getattr(module, entry_point)(args) or 0)
    except UserError as error:
        print(f"modeldistill {command}: error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        extra = missing_extra(error, f"`modeldistill {command}`")
        if extra is None:
            raise
        print(f"modeldistill {command}: error: {extra}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (`| head`) went away: stop quietly, and keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"modeldistill {command}: interrupted", file=sys.stderr)
        return 130
