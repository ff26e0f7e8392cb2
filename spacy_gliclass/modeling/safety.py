"""What a stored name may become on disk, and what a stored config may ask transformers to do.

A saved pipeline or a checkpoint folder is data from someone else. Loading it must never write
outside a fresh temporary folder, read a file outside the folder it came in, or run code shipped
with it. Every place that turns a stored name into a path, or hands a stored config to
transformers, goes through the checks here, so the rules live in one place.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, Errors
from ..jsonl import read_json_object

# What ``save_pretrained`` of the tokenizers of BERT, DeBERTa-v2/v3, ModernBERT, RoBERTa, XLM-R,
# ELECTRA, MPNet, ALBERT and T5 writes (their ``vocab_files_names`` plus the shared files).
TOKENIZER_FILES = frozenset(
    {
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
        "chat_template.jinja",
        "vocab.txt",
        "vocab.json",
        "merges.txt",
        "spm.model",
        "spiece.model",
        "sentencepiece.bpe.model",
        "tokenizer.model",
    }
)
TOKENIZER_CONFIG = "tokenizer_config.json"
# `*_file` keys of a tokenizer_config.json that transformers never opens (it opens the standard
# file in the folder instead): old Hub checkpoints carry stale absolute paths in them.
UNUSED_FILE_SETTINGS = frozenset(
    {"special_tokens_map_file", "added_tokens_file", "tokenizer_config_file", "chat_template_file"}
)
# Configs nested in a GLiClass config.json that transformers turns into config objects.
NESTED_CONFIGS = ("encoder_config", "label_model_config")


def plain_name(name: Any, source: str) -> str:
    """``name`` if it is a bare file name: no directory part, not ``.``/``..``, nothing absolute."""
    is_plain = (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and not any(sep in name for sep in ("/", "\\", "\0"))
        and not os.path.isabs(name)
        and Path(name).name == name
    )
    if not is_plain:
        raise CheckpointError(Errors.E090.format(name=name, source=source))
    return name


def tokenizer_file(folder: Path, name: Any, source: str) -> Path:
    """The path under ``folder`` for a stored tokenizer file name, if it is an allowed one."""
    plain_name(name, source)
    if name not in TOKENIZER_FILES:
        raise CheckpointError(Errors.E091.format(name=name, source=source, allowed=", ".join(sorted(TOKENIZER_FILES))))
    return folder / name


def refuse_remote_code(config: Mapping[str, Any], source: str) -> None:
    """Refuse a GLiClass config (or its nested backbone configs) that maps classes to shipped code."""
    if "auto_map" in config:
        raise CheckpointError(Errors.E092.format(source=source, where="auto_map"))
    for key in NESTED_CONFIGS:
        nested = config.get(key)
        if isinstance(nested, Mapping) and "auto_map" in nested:
            raise CheckpointError(Errors.E092.format(source=source, where=f"{key}.auto_map"))


def check_tokenizer_config(folder: Path) -> None:
    """Refuse a ``tokenizer_config.json`` that asks for shipped code, points a file setting
    elsewhere (a ``vocab_file``, ``merges_file`` or ``tokenizer_file`` stored there wins over the
    folder's own file, even as an absolute path), or names a chat template that ``save_pretrained``
    would write outside its folder."""
    path = folder / TOKENIZER_CONFIG
    if not path.is_file():
        return
    settings = read_json_object(path, CheckpointError)
    if "auto_map" in settings:
        raise CheckpointError(Errors.E092.format(source=path, where="auto_map"))
    for key, value in settings.items():
        if key.endswith("_file") and key not in UNUSED_FILE_SETTINGS and value is not None:
            raise CheckpointError(Errors.E093.format(path=path, key=key, value=value))
    for name in _chat_template_names(settings.get("chat_template")):
        plain_name(name, f"{path} (chat_template)")


def _chat_template_names(templates: Any) -> Iterable[Any]:
    """Names of the extra chat templates: ``[{"name": ..., "template": ...}]`` or a name → template dict."""
    if isinstance(templates, Mapping):
        return list(templates)
    if isinstance(templates, list):
        return [item.get("name") if isinstance(item, Mapping) else item for item in templates]
    return []


def check_links(folder: Path) -> None:
    """Refuse symbolic links in ``folder`` (at any depth) that lead outside it.

    A Hugging Face cache snapshot (``…/snapshots/<rev>/``) links every file to ``../../blobs/``;
    links into that ``blobs`` folder are allowed, as long as it is a real folder."""
    roots = [folder.resolve()]
    blobs = folder.parent.parent / "blobs"
    if folder.parent.name == "snapshots" and blobs.is_dir() and not blobs.is_symlink():
        roots.append(blobs.resolve())
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in (*dirnames, *filenames):
            entry = Path(dirpath) / name
            if not entry.is_symlink():
                continue
            target = entry.resolve()
            if not any(target.is_relative_to(root) for root in roots):
                raise CheckpointError(Errors.E094.format(path=entry, target=target, folder=folder))
