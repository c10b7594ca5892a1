"""Inference apart from training: `Classifier` (`classifier`) over the ONNX Runtime or PyTorch
runners (`backends`), what a model folder holds (`folder`), and the `bench` command (`bench`, `cli`).

    from modeldistill.inference import Classifier
    clf = Classifier.load("models/default")
"""

from modeldistill.inference.classifier import Classifier, Prediction

__all__ = ["Classifier", "Prediction"]
