"""Pure torch + transformers GLiClass: config, input processor, model, embedded default.

Nothing here imports spaCy, so the model can be tested, exported and reused on its own.
"""

from .config import GLiClassConfig
from .model import GLiClassModel, GLiClassOutput
from .processor import EncodedBatch, FewShotExample, GLiClassProcessor, validate_labels

__all__ = [
    "EncodedBatch",
    "FewShotExample",
    "GLiClassConfig",
    "GLiClassModel",
    "GLiClassOutput",
    "GLiClassProcessor",
    "validate_labels",
]
