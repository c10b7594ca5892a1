"""The export stage: the deployable folder (`export`), ONNX and int8 (`onnx`), the parity self-check (`verify`), the model card (`modelcard`, `templates/`) and the `export` command (`cli`)."""
