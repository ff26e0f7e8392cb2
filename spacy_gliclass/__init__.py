"""spacy-gliclass: GLiClass zero-shot text classification as a spaCy component.

This module is imported by spaCy for every pipeline (through the ``spacy_factories`` entry
point), so it imports nothing heavy: torch and transformers load only when a ``gliclass`` pipe
is built.
"""

__version__ = "0.1.0"
