"""Model Distillation: fine-tune a BERT teacher, distil it into a half-depth student, export, serve.

Run `modeldistill --help` for the stages. Nothing heavy is imported here, so the CLI starts fast.
"""

__version__ = "0.1.0"
