"""Run several commands side by side, each with its own torch thread count; fail if any fails.

spaCy project runs the lines of a command one after the other. On 2 CPU cores torch gains little
from a second thread on these small batches: fold models A and B trained side by side at one thread
each reached step 200 in ~10 min each, where one alone at two threads took 13 min. So the `train`
command gives every model of the workflow its own process. A command starting with ``python`` runs
with this interpreter, as spaCy project does for its own lines; each command's output goes to a log.

    python scripts/run_parallel.py --logs training/logs/train 'python -m spacy train ...' 'python ...'
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import typer


def main(
    commands: list[str] = typer.Argument(..., help="Commands, one argument each (quote them)."),
    threads: int = typer.Option(1, help="OMP_NUM_THREADS of every command."),
    logs: Path = typer.Option(Path("training/logs"), help="Folder for one log per command (0.log, 1.log, ...)."),
) -> None:
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    running = []
    for i, command in enumerate(commands):
        args = shlex.split(command)
        if args and args[0] == "python":
            args[0] = sys.executable
        log = logs / f"{i}.log"
        with log.open("w", encoding="utf8") as out:
            out.write(command + "\n")
            out.flush()
            running.append((command, log, subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)))
        typer.echo(f"started ({log}): {command}")
    failed = []
    for command, log, process in running:
        code = process.wait()
        typer.echo(f"exit {code} ({log}): {command}")
        if code:
            failed.append(log)
    for log in failed:
        typer.echo(f"--- last lines of {log} ---\n" + "\n".join(log.read_text(encoding="utf8").splitlines()[-20:]))
    if failed:
        raise typer.Exit(1)


if __name__ == "__main__":
    typer.run(main)
