"""``ppo``: fine-tune a GLiClass model with multi-label PPO from a spaCy-style ``.cfg`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def ppo(
    ctx: typer.Context,
    config_path: Annotated[
        Path, typer.Argument(help="PPO config (.cfg); see spacy_gliclass/training/ppo_default.cfg.")
    ],
    output_dir: Annotated[Path, typer.Argument(help="Writes checkpoint/ (upstream layout) and pipeline/ (spaCy).")],
) -> None:
    """Run PPO; extra options override the config like in spaCy, e.g. --training.max_steps 10."""
    from spacy.cli._util import parse_config_overrides

    from ..training.ppo import train_ppo
    from ..training.ppo_config import load_ppo_config

    overrides = parse_config_overrides(ctx.args)
    config = load_ppo_config(config_path, overrides)
    train_ppo(config, output_dir, log=typer.echo)
    typer.echo(f"Saved {output_dir / 'checkpoint'} and {output_dir / 'pipeline'}")
