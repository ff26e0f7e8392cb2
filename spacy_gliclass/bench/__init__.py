"""Speed and accuracy benchmarks of the ``gliclass`` pipe (``python -m spacy_gliclass benchmark``).

- ``options``: the run's settings and how each benchmarked pipeline is built;
- ``texts``: the seeded mixed-length texts and the label pool every model is timed on;
- ``methods``: the timed ways to score the texts (``Bench``) and their agreement check;
- ``machine``: facts about the machine (matmul speed, load, memory) and the useful-FLOP count;
- ``harness``: the interleaved timing loop over label counts and models;
- ``accuracy``: zero-shot macro-F1 of benchmarked pipes (torch int8 against fp32);
- ``runtimes``: torch and ONNX Runtime, fp32 and int8, side by side, and the int8 layer ablation;
- ``report``: the printed tables, the chart and the JSON files.

Each module imports torch only inside its functions, so reading a report needs no model stack.
"""
