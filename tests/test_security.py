"""Crafted pipelines and checkpoint folders: loading refuses them, writes nothing, runs nothing.

Each test tampers with a real saved pipeline (the msgpack in ``<pipeline>/gliclass/model``) or a
copy of a tiny checkpoint the way an attacker would, then asserts three things: a clear error that
names the problem, no file at the paths the attack targeted, and no marker file from shipped code.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import spacy
import srsly

import spacy_gliclass
from spacy_gliclass.errors import CheckpointError
from spacy_gliclass.modeling.checkpoint import LEGACY_WEIGHTS_NAME, WEIGHTS_NAME

LABELS = ["sports", "business"]


# -- helpers ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pristine_pipeline(tiny_uni, tmp_path_factory) -> Path:
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": str(tiny_uni), "labels": LABELS})
    path = tmp_path_factory.mktemp("pristine") / "pipeline"
    nlp.to_disk(path)
    return path


@pytest.fixture
def pipeline(pristine_pipeline, tmp_path) -> Path:
    """A fresh copy of a saved pipeline, to tamper with."""
    return Path(shutil.copytree(pristine_pipeline, tmp_path / "pipeline"))


@pytest.fixture
def checkpoint(tiny_uni, tmp_path) -> Path:
    """A fresh copy of a tiny checkpoint folder, to tamper with."""
    return Path(shutil.copytree(tiny_uni, tmp_path / "checkpoint"))


def edit_shim(pipeline: Path, edit) -> None:
    """Apply ``edit`` to the gliclass shim's msgpack dict (cfg, config, weights, tokenizer)."""
    model_file = pipeline / "gliclass" / "model"
    outer = srsly.msgpack_loads(model_file.read_bytes())
    shim = srsly.msgpack_loads(outer["shims"][0][0])
    edit(shim)
    outer["shims"][0][0] = srsly.msgpack_dumps(shim)
    model_file.write_bytes(srsly.msgpack_dumps(outer))


def edit_json(raw: bytes | str, **changes) -> bytes:
    """A JSON object with ``changes`` applied (value None removes the key)."""
    data = json.loads(raw)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data).encode("utf8")


def evil_module(marker: Path) -> bytes:
    """Python that writes ``marker`` when imported: what an `auto_map` would make transformers run."""
    return f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n".encode()


def climbing_name(target: Path) -> str:
    """A relative name that climbs from any temporary folder to the root and down to ``target``."""
    depth = len(Path(tempfile.gettempdir()).resolve().parts) + 8
    return "../" * depth + str(target.resolve()).lstrip("/")


def load_checkpoint_pipe(path: Path) -> None:
    nlp = spacy.blank("en")
    nlp.add_pipe("gliclass", config={"model": str(path), "labels": LABELS})
    nlp.initialize()


def test_untampered_pipeline_and_checkpoint_still_load(pipeline, checkpoint):
    assert set(spacy.load(pipeline)("The match was won.").cats) == set(LABELS)
    load_checkpoint_pipe(checkpoint)


# -- a saved pipeline ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["absolute", "climbing", "nested", "dot-dot"])
def test_stored_tokenizer_name_outside_the_temp_folder_is_refused(kind, pipeline, tmp_path):
    victim = tmp_path / "outside" / "written.txt"
    victim.parent.mkdir()
    name = {
        "absolute": str(victim),
        "climbing": climbing_name(victim),
        "nested": "sub/vocab.txt",
        "dot-dot": "..",
    }[kind]
    edit_shim(pipeline, lambda shim: shim["tokenizer"].__setitem__(name, b"pwned"))
    with pytest.raises(CheckpointError, match="not a plain file name") as err:
        spacy.load(pipeline)
    assert repr(name) in str(err.value)
    assert not victim.exists()


def test_stored_file_that_is_no_tokenizer_file_is_refused(pipeline, tmp_path):
    marker = tmp_path / "marker"
    edit_shim(pipeline, lambda shim: shim["tokenizer"].__setitem__("evil.py", evil_module(marker)))
    with pytest.raises(CheckpointError, match="'evil.py', which is not a tokenizer file"):
        spacy.load(pipeline)
    assert not marker.exists()


def _auto_map_in_tokenizer_config(shim) -> None:
    raw = shim["tokenizer"]["tokenizer_config.json"]
    auto_map = {"AutoTokenizer": ["evil.EvilTokenizer", None]}
    shim["tokenizer"]["tokenizer_config.json"] = edit_json(raw, auto_map=auto_map, tokenizer_class="EvilTokenizer")


def _auto_map_in_config(shim) -> None:
    shim["config"] = edit_json(shim["config"], auto_map={"AutoConfig": "evil.EvilConfig"}).decode()
    raw = shim["tokenizer"]["tokenizer_config.json"]
    shim["tokenizer"]["tokenizer_config.json"] = edit_json(raw, tokenizer_class=None)


def _auto_map_in_encoder_config(shim) -> None:
    config = json.loads(shim["config"])
    config["encoder_config"]["auto_map"] = {"AutoModel": "evil.EvilModel"}
    shim["config"] = json.dumps(config)


@pytest.mark.parametrize(
    "edit,where",
    [
        (_auto_map_in_tokenizer_config, "tokenizer_config.json sets `auto_map`"),
        (_auto_map_in_config, "pipe .* sets `auto_map`"),
        (_auto_map_in_encoder_config, "sets `encoder_config.auto_map`"),
    ],
)
def test_auto_map_in_a_stored_config_is_refused(edit, where, pipeline):
    edit_shim(pipeline, edit)
    with pytest.raises(CheckpointError, match=where):
        spacy.load(pipeline)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"vocab_file": "/etc/hostname"}, "vocab_file = '/etc/hostname'"),
        ({"tokenizer_file": "tokenizer.json"}, "tokenizer_file = 'tokenizer.json'"),
        ({"chat_template": [{"name": "../../escape", "template": "x"}]}, "'../../escape', which is not a plain"),
    ],
)
def test_tokenizer_config_pointing_elsewhere_is_refused(changes, message, pipeline):
    def edit(shim):
        shim["tokenizer"]["tokenizer_config.json"] = edit_json(shim["tokenizer"]["tokenizer_config.json"], **changes)

    edit_shim(pipeline, edit)
    with pytest.raises(CheckpointError, match=message):
        spacy.load(pipeline)


def test_stale_paths_transformers_never_opens_still_load(pipeline):
    """Old Hub tokenizer configs carry absolute paths in keys transformers ignores: not refused."""

    def edit(shim):
        raw = shim["tokenizer"]["tokenizer_config.json"]
        shim["tokenizer"]["tokenizer_config.json"] = edit_json(raw, special_tokens_map_file="/gone/map.json")

    edit_shim(pipeline, edit)
    assert list(spacy.load(pipeline).get_pipe("gliclass").labels) == LABELS


def test_saving_a_tokenizer_file_loading_would_refuse_fails_at_save(pipeline, monkeypatch):
    from spacy_gliclass.modeling import GLiClassProcessor

    nlp = spacy.load(pipeline)
    save = GLiClassProcessor.save_pretrained

    def save_with_extra(self, path):
        save(self, path)
        (Path(path) / "extra.bin").write_bytes(b"")

    monkeypatch.setattr(GLiClassProcessor, "save_pretrained", save_with_extra)
    with pytest.raises(CheckpointError, match="'extra.bin'"):
        nlp.to_bytes()


def _oversized_header(weights: bytes) -> bytes:
    """The header length claims more bytes than the weights hold."""
    return (len(weights) * 4).to_bytes(8, "little") + weights[8:]


@pytest.mark.parametrize(
    "tamper",
    [lambda w: w[: len(w) // 2], _oversized_header, lambda w: b"not safetensors"],
    ids=["truncated", "oversized", "garbage"],
)
def test_broken_weights_in_a_pipeline_fail_cleanly(tamper, pipeline):
    edit_shim(pipeline, lambda shim: shim.__setitem__("weights", tamper(shim["weights"])))
    with pytest.raises(CheckpointError, match="Could not read 'the weights of the serialized gliclass pipe'"):
        spacy.load(pipeline)


def test_malformed_tokenizer_entry_is_refused(pipeline):
    edit_shim(pipeline, lambda shim: shim["tokenizer"].__setitem__("vocab.txt", ["not", "bytes"]))
    with pytest.raises(CheckpointError, match="'vocab.txt' holds no bytes"):
        spacy.load(pipeline)


# -- a checkpoint folder ------------------------------------------------------------------------
def test_auto_map_in_a_checkpoint_tokenizer_config_is_refused(checkpoint, tmp_path):
    marker = tmp_path / "marker"
    (checkpoint / "evil.py").write_bytes(evil_module(marker))
    tok_config = checkpoint / "tokenizer_config.json"
    tok_config.write_bytes(edit_json(tok_config.read_bytes(), auto_map={"AutoTokenizer": ["evil.EvilTokenizer", None]}))
    with pytest.raises(CheckpointError, match="tokenizer_config.json sets `auto_map`"):
        load_checkpoint_pipe(checkpoint)
    assert not marker.exists()


@pytest.mark.parametrize("nested", [False, True], ids=["config", "encoder_config"])
def test_auto_map_in_a_checkpoint_config_is_refused(nested, checkpoint):
    config = json.loads((checkpoint / "config.json").read_text())
    (config["encoder_config"] if nested else config)["auto_map"] = {"AutoConfig": "evil.EvilConfig"}
    (checkpoint / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"config.json sets `(encoder_config\.)?auto_map`"):
        load_checkpoint_pipe(checkpoint)


class _WritesMarker:
    """Unpickling this writes a file: the classic malicious ``pytorch_model.bin``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def test_pickled_weights_run_nothing(checkpoint, tmp_path):
    marker = tmp_path / "marker"
    (checkpoint / WEIGHTS_NAME).unlink()
    (checkpoint / LEGACY_WEIGHTS_NAME).write_bytes(pickle.dumps({"model.x": _WritesMarker(marker)}, protocol=2))
    with pytest.raises(CheckpointError, match=LEGACY_WEIGHTS_NAME):
        load_checkpoint_pipe(checkpoint)
    assert not marker.exists()


@pytest.mark.parametrize("tamper", [lambda w: w[: len(w) // 2], _oversized_header], ids=["truncated", "oversized"])
def test_broken_weights_in_a_checkpoint_fail_cleanly(tamper, checkpoint):
    weights = checkpoint / WEIGHTS_NAME
    weights.write_bytes(tamper(weights.read_bytes()))
    with pytest.raises(CheckpointError, match=f"Could not read '.*{WEIGHTS_NAME}'"):
        load_checkpoint_pipe(checkpoint)


@pytest.mark.parametrize("name", ["vocab.txt", WEIGHTS_NAME, "config.json"])
def test_symlink_leading_outside_a_checkpoint_is_refused(name, checkpoint, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.move(checkpoint / name, outside / name)
    (checkpoint / name).symlink_to(outside / name)
    with pytest.raises(CheckpointError, match=f"'{checkpoint / name}' is a symbolic link to '{outside / name}'"):
        load_checkpoint_pipe(checkpoint)


def test_symlinked_folder_leading_outside_a_checkpoint_is_refused(checkpoint, tmp_path):
    (checkpoint / "extra").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(CheckpointError, match="is a symbolic link to"):
        load_checkpoint_pipe(checkpoint)


def test_hub_cache_snapshot_links_into_its_blobs_load(tiny_uni, tmp_path):
    """The Hugging Face cache layout (snapshot files linking to ../../blobs) is not an escape."""
    repo = tmp_path / "models--owner--tiny"
    snapshot = repo / "snapshots" / "0123abc"
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for i, source in enumerate(sorted(tiny_uni.iterdir())):
        shutil.copy(source, repo / "blobs" / f"blob{i}")
        (snapshot / source.name).symlink_to(Path("../../blobs") / f"blob{i}")
    load_checkpoint_pipe(snapshot)
    # ... but a blob that itself links outside is still an escape.
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (repo / "blobs" / "blob0").unlink()
    (repo / "blobs" / "blob0").symlink_to(secret)
    with pytest.raises(CheckpointError, match="is a symbolic link to"):
        load_checkpoint_pipe(snapshot)


# -- stdin that answers "y" ---------------------------------------------------------------------
LOADER = textwrap.dedent(
    """
    import sys
    import spacy

    for kind, path in zip(sys.argv[1::2], sys.argv[2::2]):
        try:
            if kind == "pipeline":
                spacy.load(path)
            else:
                nlp = spacy.blank("en")
                nlp.add_pipe("gliclass", config={"model": path, "labels": ["a", "b"]})
                nlp.initialize()
            print("LOADED", path)
        except Exception as err:  # any failure is reported, so the marker check below decides
            print(type(err).__name__, path, str(err).splitlines()[0][:200])
    """
)


def test_nothing_runs_even_when_stdin_answers_yes(pristine_pipeline, tiny_uni, tmp_path):
    """transformers asks on stdin before running shipped code when trust_remote_code is unset;
    whatever the answer, loading must never get that far."""
    markers = tmp_path / "markers"  # one per case, written by that case's shipped code
    cases: list[tuple[str, Path]] = []
    for name, edit in [("tok", _auto_map_in_tokenizer_config), ("cfg", _auto_map_in_config)]:
        pipeline = Path(shutil.copytree(pristine_pipeline, tmp_path / f"pipeline-{name}"))

        def add_evil(shim, edit=edit, marker=markers / name):
            edit(shim)
            shim["tokenizer"]["evil.py"] = evil_module(marker)

        edit_shim(pipeline, add_evil)
        cases.append(("pipeline", pipeline))
    checkpoint = Path(shutil.copytree(tiny_uni, tmp_path / "checkpoint"))
    (checkpoint / "evil.py").write_bytes(evil_module(markers / "checkpoint"))
    tok_config = checkpoint / "tokenizer_config.json"
    auto_map = {"AutoTokenizer": ["evil.EvilTokenizer", None]}
    tok_config.write_bytes(edit_json(tok_config.read_bytes(), auto_map=auto_map, tokenizer_class="EvilTokenizer"))
    cases.append(("checkpoint", checkpoint))

    modules = tmp_path / "hf_modules"  # where transformers would copy shipped code before importing it
    here = str(Path(spacy_gliclass.__file__).parents[1])  # the subprocess imports the code under test
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]),
        "HF_MODULES_CACHE": str(modules),
        "HF_HUB_OFFLINE": "1",
    }
    args = [str(x) for case in cases for x in case]
    markers.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", LOADER, *args],
        input="y\n" * 10,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert not list(markers.iterdir()), result.stdout
    assert not list(modules.rglob("evil.py"))
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["CheckpointError"] * len(cases), result.stdout
    assert "Do you wish to run the custom code" not in result.stdout + result.stderr
