"""Load a pipeline with a gliclass pipe, and find that pipe: what every CLI command and the
annotate engines start from, so that each accepts the same things and fails the same way."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import Errors, GLiClassError

if TYPE_CHECKING:
    from spacy.language import Language

    from .component import GLiClassCategorizer


def is_saved_pipeline(model: str | Path) -> bool:
    """A folder that ``nlp.to_disk`` (or ``spacy train``) wrote."""
    return bool(str(model)) and (Path(model) / "config.cfg").is_file()


def find_gliclass_pipe(nlp: Language, pipe_name: str = "", source: str | Path = "<pipeline>") -> str:
    """The name of the gliclass pipe: ``pipe_name`` if given (and a gliclass pipe), else the last one."""
    names = [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory == "gliclass"]
    if pipe_name:
        names = [name for name in names if name == pipe_name]
    if not names:
        named = f" called '{pipe_name}'" if pipe_name else ""
        raise GLiClassError(Errors.E117.format(path=source, named=named, pipes=nlp.pipe_names))
    return names[-1]


def moved_settings_error(err: Exception, path: str | Path) -> GLiClassError | None:
    """Our error naming the new place of flat settings an older pipeline's config still has, for a
    spaCy config error about them (None for any other error)."""
    from .settings import MOVED

    keys = [e["loc"][-1] for e in getattr(err, "errors", None) or [] if e.get("loc") and e["loc"][-1] in MOVED]
    if not keys:
        return None
    places = "; ".join(f"{key} -> {MOVED[key]}" for key in keys)
    return GLiClassError(Errors.E121.format(keys=keys, places=places, path=Path(path) / "config.cfg"))


def load_saved_pipeline(path: str | Path, pipe_name: str = "") -> tuple[Language, GLiClassCategorizer]:
    """A saved pipeline and its gliclass pipe (for commands that change or export a trained pipe)."""
    import spacy
    from confection import ConfigValidationError

    if not is_saved_pipeline(path):
        raise GLiClassError(Errors.E118.format(path=path))
    try:
        nlp = spacy.load(path)
    except ConfigValidationError as err:
        raise (moved_settings_error(err, path) or err) from err
    return nlp, nlp.get_pipe(find_gliclass_pipe(nlp, pipe_name, path))


def refuse_other_settings(saved: dict[str, Any], config: dict[str, Any], path: str | Path) -> None:
    """A saved pipeline keeps its own settings: asking for others (int8, ONNX, a batch size) would be
    silently ignored, so it is an error; asking for the ones it has is fine."""
    from dataclasses import asdict

    from .settings import ModelSettings

    block = saved.get("model")  # a name alone, or a model block
    saved_model = {**asdict(ModelSettings()), **(dict(block) if isinstance(block, dict) else {"name": block})}
    asked = [(f"model.{k}", v, saved_model.get(k)) for k, v in dict(config.get("model") or {}).items()]
    asked += [(k, v, saved.get(k)) for k, v in config.items() if k != "model"]
    differ = [f"{key} = {value!r} (it has {has!r})" for key, value, has in asked if value != has]
    if differ:
        raise GLiClassError(Errors.E122.format(path=path, settings="; ".join(differ)))


def load_pipeline(
    model: str = "", labels: list[str] | None = None, pipe_name: str = "", config: dict[str, Any] | None = None
) -> tuple[Language, GLiClassCategorizer]:
    """A pipeline to classify with, and its gliclass pipe. ``model``: a saved pipeline (loaded as
    it is; ``labels``, if given, replace its labels; ``config`` may only repeat its settings), else any ``model`` value of the pipe — a
    checkpoint folder, a Hub id, a delta file, "floor" or "" (the default) — in a blank English
    pipeline, with ``config`` as further pipe settings (``config["model"]``: model settings
    besides the name)."""
    import spacy

    if is_saved_pipeline(model):
        nlp, pipe = load_saved_pipeline(model, pipe_name)
        refuse_other_settings(nlp.config["components"][pipe.name], config or {}, model)
        if labels:
            pipe.labels = list(labels)
        return nlp, pipe
    settings = dict(config or {})
    block = settings.pop("model", None)  # model settings besides the name: a partial model block
    settings["model"] = {**block, "name": model} if block else model
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("gliclass", name=pipe_name or "gliclass", config={**settings, "labels": list(labels or [])})
    return nlp, pipe
