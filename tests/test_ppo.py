"""PPO pieces with hand-computed values, the rewards, a toy task PPO must learn, and the CLI."""

from __future__ import annotations

import json
import math

import pytest
import torch

from spacy_gliclass.errors import GLiClassError
from spacy_gliclass.training.advantages import (
    batch_mean_advantage,
    leave_one_out_advantage,
    normalize_advantages,
    per_label_advantage,
)
from spacy_gliclass.training.ppo import PPOTrainer, bernoulli_entropy, bernoulli_log_prob, clipped_surrogate, kl_k3
from spacy_gliclass.training.ppo_config import DEFAULT_CONFIG_PATH, PPOConfig
from spacy_gliclass.training.ppo_data import PPOExample, read_ppo_examples, row_to_example
from spacy_gliclass.training.rewards import accuracy_reward, f1_reward, make_feedback_reward

LN2 = math.log(2.0)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run ~50x faster on one thread when the two cores are shared."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def close(value: torch.Tensor, expected) -> None:
    torch.testing.assert_close(value, torch.as_tensor(expected, dtype=value.dtype), atol=1e-5, rtol=1e-5)


# -- pure pieces ------------------------------------------------------------------------------
def test_bernoulli_log_prob():
    logits = torch.tensor([[0.0, 0.0, math.log(3.0)]])
    actions = torch.tensor([[1.0, 0.0, 1.0]])
    close(bernoulli_log_prob(logits, actions), [[-LN2, -LN2, math.log(0.75)]])


def test_clipped_surrogate_clips_both_sides():
    # ratios 1.5 and 0.5; advantages +1 (row 0) and -1 (row 1)
    logp_new = torch.log(torch.tensor([[1.5, 0.5], [1.5, 0.5]]))
    logp_old = torch.zeros(2, 2)
    adv = torch.tensor([1.0, -1.0])
    # objective: A=+1: min(1.5, 1.2)=1.2, min(0.5, 0.8)=0.5; A=-1: min(-1.5, -1.2)=-1.5, min(-0.5, -0.8)=-0.8
    close(clipped_surrogate(logp_new, logp_old, adv, torch.ones(2, 2), clip=0.2), -(1.2 + 0.5 - 1.5 - 0.8) / 4)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    close(clipped_surrogate(logp_new, logp_old, adv, mask, clip=0.2), -(1.2 + 0.5 - 1.5) / 3)


def test_clipped_surrogate_gradient_vanishes_outside_the_clip():
    logp_new = torch.log(torch.tensor([[1.5, 1.1]])).requires_grad_(True)
    clipped_surrogate(logp_new, torch.zeros(1, 2), torch.tensor([1.0]), torch.ones(1, 2), 0.2).backward()
    # clipped slot: no gradient; unclipped: d(-r/2)/dlogp = -r/2
    close(logp_new.grad, [[0.0, -1.1 / 2]])


def test_kl_k3():
    logp_cur = torch.tensor([[-1.0, -LN2, 0.0]])
    logp_ref = torch.tensor([[-1.0, 0.0, 5.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    # d = ref - cur = [0, ln2]: exp(d) - d - 1 = [0, 1 - ln2]; the third slot is masked
    close(kl_k3(logp_ref, logp_cur, mask), (1 - LN2) / 2)
    assert float(kl_k3(logp_cur, logp_cur, torch.ones(1, 3))) == 0.0


def test_bernoulli_entropy():
    probs = torch.tensor([[0.5, 1.0, 0.25]])
    h_quarter = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    close(bernoulli_entropy(probs, torch.tensor([[1.0, 1.0, 0.0]])), LN2 / 2)
    close(bernoulli_entropy(probs, torch.tensor([[1.0, 0.0, 1.0]])), (LN2 + h_quarter) / 2)


def test_advantages():
    adv = batch_mean_advantage(torch.tensor([1.0, 2.0, 3.0]))
    close(adv, [-1.0, 0.0, 1.0])
    close(normalize_advantages(adv), [-math.sqrt(1.5), 0.0, math.sqrt(1.5)])
    close(normalize_advantages(torch.zeros(3)), [0.0, 0.0, 0.0])  # constant batch: no signal, no NaN


# -- rewards ----------------------------------------------------------------------------------
TARGETS = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, -1.0]])
ACTIONS = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
ONES = torch.ones(4, 3)


def test_f1_reward():
    # row 0: tp 1, 2 sampled, 1 gold -> 2/3; row 1: tp 1, 1 sampled, 2 gold -> 2/3;
    # row 2: nothing gold, nothing sampled -> 1; row 3: gold missed, the unjudged slot does not count -> 0
    close(f1_reward(ONES, ACTIONS, TARGETS, ONES), [2 / 3, 2 / 3, 1.0, 0.0])
    mask = ONES.clone()
    mask[0, 1] = 0.0  # an empty slot: its action is ignored
    close(f1_reward(ONES, ACTIONS, TARGETS, mask)[0], 1.0)


def test_accuracy_reward():
    close(accuracy_reward(ONES, ACTIONS, TARGETS, ONES), [2 / 3, 2 / 3, 1.0, 0.5])


def test_feedback_reward():
    targets = torch.tensor([[1.0, 0.0, -1.0], [1.0, 0.0, -1.0], [-1.0, -1.0, -1.0]])
    actions = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    mask = torch.ones(3, 3)
    # row 0: +1 (accepted sampled) over 2 judged; row 1: -1 (rejected sampled) over 2; row 2: nothing judged
    close(make_feedback_reward()(mask, actions, targets, mask), [0.5, -0.5, 0.0])
    # symmetric term: row 0 left out a rejected label (+0.1), row 1 left out an accepted one (-0.1)
    close(make_feedback_reward(0.1)(mask, actions, targets, mask), [0.55, -0.55, 0.0])


def test_rewards_resolve_from_the_registry():
    from spacy.util import registry

    block = {
        "f1": {"@misc": "spacy-gliclass.f1_reward.v1"},
        "acc": {"@misc": "spacy-gliclass.accuracy_reward.v1"},
        "fb": {"@misc": "spacy-gliclass.feedback_reward.v1", "unsampled_weight": 0.1},
    }
    fns = registry.resolve({"rewards": block})["rewards"]
    assert fns["f1"] is f1_reward and fns["acc"] is accuracy_reward
    t = torch.tensor([[1.0, 0.0]])
    close(fns["fb"](t, torch.tensor([[1.0, 0.0]]), t, torch.ones(1, 2)), [0.55])


# -- data -------------------------------------------------------------------------------------
def test_rows_gold_and_feedback(tmp_path):
    gold = row_to_example({"text": "t", "labels": ["b"]}, ["a", "b", "c"])
    assert gold.labels == ["a", "b", "c"] and gold.targets == [0.0, 1.0, 0.0]
    fb = row_to_example({"text": "t", "labels": ["a", "d"], "accepted": ["a"], "rejected": ["d"]}, ["a", "b"])
    assert fb.labels == ["a", "b", "d"] and fb.targets == [1.0, -1.0, 0.0]
    (tmp_path / "dataset_info.json").write_text(json.dumps({"labels": ["x", "y"]}))
    (tmp_path / "train.jsonl").write_text('{"text": "one", "labels": ["y"]}\n{"text": "two", "all_labels": ["z"]}\n')
    examples = read_ppo_examples(str(tmp_path / "train.jsonl"))
    assert [(eg.labels, eg.targets) for eg in examples] == [(["x", "y"], [0.0, 1.0]), (["z"], [0.0])]


# -- end to end -------------------------------------------------------------------------------
LABELS = ["animals", "sports", "food"]
TOY = [
    ("the cat chased a mouse", "animals"),
    ("a dog barked at the horse", "animals"),
    ("birds sing in trees", "animals"),
    ("we ate pizza and pasta", "food"),
    ("fresh bread with cheese and soup", "food"),
    ("rice and beans for dinner", "food"),
]


def toy_examples() -> list[PPOExample]:
    return [PPOExample(text, LABELS, [float(label == gold) for label in LABELS]) for text, gold in TOY]


def test_ppo_learns_a_toy_task(tiny_bi):
    from spacy_gliclass.modeling import GLiClassModel

    model, processor = GLiClassModel.from_pretrained(tiny_bi)
    # KL and entropy keep the policy from collapsing to "every label on" (F1 0.5), where
    # sampling becomes deterministic and the advantage vanishes.
    config = PPOConfig(
        max_steps=60, batch_size=6, inner_epochs=3, encoder_lr=3e-3, head_lr=3e-3, kl_beta=0.1, entropy_beta=0.05
    )
    trainer = PPOTrainer(model, processor, {"f1": f1_reward}, {}, config)
    examples = toy_examples()
    before = trainer.greedy_reward(examples)
    history = trainer.train(examples)
    after = trainer.greedy_reward(examples)
    assert after >= before + 0.4, (before, after)
    assert sum(s["reward"] for s in history[-10:]) > sum(s["reward"] for s in history[:10])
    assert all(s["kl"] >= 0 for s in history)


def test_value_head_learns_the_reward(tiny_bi):
    from spacy_gliclass.modeling import GLiClassModel

    model, processor = GLiClassModel.from_pretrained(tiny_bi)
    config = PPOConfig(
        max_steps=15,
        batch_size=6,
        inner_epochs=1,
        value_head=True,
        value_lr=1e-2,
        kl_beta=0.0,
        samples_per_example=1,
        per_label_advantages=False,
    )
    trainer = PPOTrainer(model, processor, {"f1": f1_reward}, {}, config)
    history = trainer.train(toy_examples())
    assert history[-1]["value_loss"] < history[0]["value_loss"]


def test_leave_one_out_baseline_is_the_other_samples_of_the_same_text():
    rewards = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.5, 3.0]])  # K = 3 samples, B = 2 texts
    close(leave_one_out_advantage(rewards), [[0.75, -1.5], [-0.75, -1.5], [0.0, 3.0]])
    # a text where every sample scores the same teaches nothing, however high the score
    close(leave_one_out_advantage(torch.full((4, 1), 0.9)), [[0.0]] * 4)


def test_surrogate_over_samples_is_the_mean_over_samples():
    torch.manual_seed(0)
    new, old = torch.randn(3, 2, 4), torch.randn(3, 2, 4)
    adv, mask = torch.randn(3, 2), torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    per_sample = [clipped_surrogate(new[k], old[k], adv[k], mask) for k in range(3)]
    close(clipped_surrogate(new, old, adv, mask), sum(per_sample) / 3)


def test_per_label_advantage_by_hand():
    """Gold {0}, sampled {0}: turning label 0 off would drop F1 from 1 to 0, turning label 1 on to 2/3."""
    probs, actions, targets = torch.tensor([[0.5, 0.5]]), torch.tensor([[[1.0, 0.0]]]), torch.tensor([[1.0, 0.0]])
    mask = torch.ones(1, 2)

    def reward_of(a):
        return f1_reward(probs.expand(a.shape[0], 2), a, targets.expand(a.shape[0], 2), mask.expand(a.shape[0], 2))

    close(per_label_advantage(reward_of, probs, actions), [[[0.5 * 1.0, -0.5 * (2 / 3 - 1.0)]]])


def test_per_label_advantage_is_an_unbiased_policy_gradient():
    """Summed over every action vector with its probability, advantage × d log π / d logit equals the exact
    gradient of the expected F1; a label that is never judged gets none."""
    import itertools

    logits = torch.tensor([[0.3, -1.0, 0.8]], requires_grad=True)
    targets, mask = torch.tensor([[1.0, 0.0, -1.0]]), torch.ones(1, 3)
    probs = torch.sigmoid(logits)
    every = torch.tensor(list(itertools.product([0.0, 1.0], repeat=3))).unsqueeze(1)  # (8, 1, 3)
    weight = bernoulli_log_prob(logits, every).sum(-1).exp()  # (8, 1)
    rewards = f1_reward(probs.expand(8, 3), every[:, 0], targets.expand(8, 3), mask.expand(8, 3))
    (exact,) = torch.autograd.grad((weight[:, 0] * rewards).sum(), logits)

    def reward_of(a):
        n = a.shape[0]
        return f1_reward(probs.detach().expand(n, 3), a, targets.expand(n, 3), mask.expand(n, 3))

    p = probs.detach()
    advantage = per_label_advantage(reward_of, p, every)  # (8, 1, 3)
    estimate = (weight.detach().unsqueeze(-1) * advantage * (every - p)).sum(0)
    close(estimate, exact)
    assert float(estimate[0, 2]) == 0.0


def test_per_label_advantages_with_a_value_head_are_refused():
    with pytest.raises(GLiClassError, match="per_label_advantages = false"):
        PPOConfig(value_head=True, samples_per_example=1)


def test_value_head_with_several_samples_is_refused():
    with pytest.raises(GLiClassError, match="samples_per_example = 1"):
        PPOConfig(value_head=True, samples_per_example=4)


def test_early_stopping_keeps_the_best_dev_weights(tiny_bi):
    """A dev score that only falls stops training after `patience` evaluations and gives back the start
    model; one that rises keeps the weights of its best step."""
    from spacy_gliclass.modeling import GLiClassModel

    config = PPOConfig(max_steps=20, batch_size=6, encoder_lr=3e-3, head_lr=3e-3, eval_every=2, patience=2)
    model, processor = GLiClassModel.from_pretrained(tiny_bi)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    calls = iter(range(100))
    history = PPOTrainer(model, processor, {"f1": f1_reward}, {}, config).train(
        toy_examples(), dev_score=lambda _: -next(calls)
    )
    assert len(history) == 4 and [s["dev_score"] for s in history if "dev_score" in s] == [-1, -2]
    assert all(torch.equal(v, start[k]) for k, v in model.state_dict().items())

    model, processor = GLiClassModel.from_pretrained(tiny_bi)
    kept: dict[int, dict[str, torch.Tensor]] = {}

    def rises_until_step_6(m) -> float:
        step = len(kept) * 2
        kept[step] = {k: v.clone() for k, v in m.state_dict().items()}
        return float(min(step, 6))

    history = PPOTrainer(model, processor, {"f1": f1_reward}, {}, config).train(
        toy_examples(), dev_score=rises_until_step_6
    )
    assert len(history) == 10  # no gain at steps 8 and 10 (patience 2): stopped
    assert all(torch.equal(v, kept[6][k]) for k, v in model.state_dict().items())
    assert not all(torch.equal(v, start[k]) for k, v in model.state_dict().items())


def test_greedy_reward_with_the_top_label_always_on(tiny_bi):
    from spacy_gliclass.modeling import GLiClassModel

    model, processor = GLiClassModel.from_pretrained(tiny_bi)
    trainer = PPOTrainer(model, processor, {"f1": f1_reward}, {}, PPOConfig())
    examples = toy_examples()
    logits = model.encode(processor([eg.text for eg in examples], LABELS)).logits
    for eg, top in list(zip(examples, logits.argmax(-1).tolist(), strict=True))[:3]:  # their top label is gold
        eg.targets[:] = [float(k == top) for k in range(len(LABELS))]
    # threshold above 1 turns every label off: F1 0 for every gold-labelled text ...
    assert trainer.greedy_reward(examples, threshold=1.01) == 0.0
    # ... and with the top label on, the reward is the share of texts whose top label is gold (F1 1 or 0)
    hits = [eg.targets[int(i)] for eg, i in zip(examples, logits.argmax(-1), strict=True)]
    assert sum(hits) >= 3
    assert trainer.greedy_reward(examples, threshold=1.01, top_label=True) == pytest.approx(sum(hits) / len(hits))


def test_cli_writes_checkpoint_and_pipeline(tiny_bi, tmp_path):
    import spacy
    from typer.testing import CliRunner

    from spacy_gliclass.cli import app
    from spacy_gliclass.modeling import GLiClassModel

    data = tmp_path / "toy"
    data.mkdir()
    (data / "dataset_info.json").write_text(json.dumps({"labels": LABELS, "multi_label": True}))
    (data / "train.jsonl").write_text("".join(json.dumps({"text": t, "labels": [g]}) + "\n" for t, g in TOY))
    out = tmp_path / "out"
    args = ["ppo", str(DEFAULT_CONFIG_PATH), str(out), "--paths.checkpoint", str(tiny_bi)]
    args += ["--paths.train", str(data / "train.jsonl"), "--training.max_steps", "2", "--training.batch_size", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    model, _ = GLiClassModel.from_pretrained(out / "checkpoint")
    assert model.config.is_bi_encoder
    nlp = spacy.load(out / "pipeline")
    doc = nlp("the cat sat on the mat")
    assert set(doc.cats) == set(LABELS)
    assert all(0.0 <= v <= 1.0 for v in doc.cats.values())
    assert len((out / "history.jsonl").read_text().splitlines()) == 2


def run_ppo_on_toy_rows(checkpoint, tmp_path, *options: str):
    """The ppo CLI on the TOY rows (train and dev file alike); returns the typer result and the output dir."""
    from typer.testing import CliRunner

    from spacy_gliclass.cli import app

    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"text": t, "labels": [g], "all_labels": LABELS}) + "\n" for t, g in TOY))
    out = tmp_path / "out"
    args = [
        "ppo",
        str(DEFAULT_CONFIG_PATH),
        str(out),
        "--paths.checkpoint",
        str(checkpoint),
        "--paths.train",
        str(rows),
    ]
    result = CliRunner().invoke(app, [*args, "--paths.dev", str(rows), *options])
    assert result.exit_code == 0, result.output
    return result, out


def test_cli_stops_early_on_a_dev_file(tiny_bi, tmp_path):
    options = ["--training.max_steps", "4", "--training.batch_size", "3", "--training.eval_every", "2"]
    result, out = run_ppo_on_toy_rows(tiny_bi, tmp_path, *options, "--training.patience", "0")
    assert "(step 0 = the start model): weights restored" in result.output
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [("dev_score" in s) for s in history] == [False, True, False, True]


def test_cli_dev_score_of_the_top_label_alone(tmp_path):
    """dev_top_label_only scores the dev file by the argmax: the share of texts whose top label is gold."""
    from spacy_gliclass.modeling import GLiClassModel

    from .conftest import build_tiny

    start = build_tiny(tmp_path / "start", architecture_type="bi-encoder", scorer_type="simple", use_logit_bias=True)
    model, processor = GLiClassModel.from_pretrained(start)
    with torch.no_grad():  # every label far above 0.5: a threshold of 0.5 would turn all of them on (F1 0.5)
        model.logit_bias.fill_(20.0)
    logits = model.encode(processor([t for t, _ in TOY], LABELS)).logits
    assert bool((logits > 0).all())
    top = logits.argmax(-1).tolist()
    argmax_accuracy = sum(LABELS[k] == g for k, (_, g) in zip(top, TOY, strict=True)) / len(TOY)
    assert argmax_accuracy != 0.5
    model.save_pretrained(start, processor)
    options = ["--training.max_steps", "1", "--training.eval_every", "5", "--training.shuffle_labels", "false"]
    result, _ = run_ppo_on_toy_rows(start, tmp_path, *options, "--training.dev_top_label_only", "true")
    assert f"dev score {argmax_accuracy:.4f} at step 0" in result.output


def test_rewards_are_reachable_from_a_config_through_entry_points():
    """A config can name the rewards after a plain `import spacy` (spacy_misc entry points)."""
    import subprocess
    import sys

    code = (
        "import sys, spacy\n"
        "assert 'spacy_gliclass.training.rewards' not in sys.modules\n"
        "for name in ('f1_reward', 'accuracy_reward', 'feedback_reward'):\n"
        "    assert callable(spacy.util.registry.misc.get(f'spacy-gliclass.{name}.v1')())\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_paired_gain_bound_is_the_sign_test_on_right_and_wrong_rows():
    from spacy_gliclass.training.early_stopping import paired_gain_bound

    start = torch.tensor([1.0] * 10 + [0.0] * 30)
    assert paired_gain_bound(start, start, z=1.645) == 0.0  # the start model itself
    one_more = start.clone()
    one_more[10] = 1.0
    assert paired_gain_bound(start, one_more, z=0.0) == pytest.approx(1 / 40)  # z = 0: the difference of means
    assert paired_gain_bound(start, one_more, z=1.645) < 0  # one row: noise
    swapped = start.clone()
    swapped[:3], swapped[10:15] = 0.0, 1.0  # 5 won, 3 lost
    assert paired_gain_bound(start, swapped, z=1.645) < 0 < paired_gain_bound(start, swapped, z=0.0)
    clear = start.clone()
    clear[10:22] = 1.0  # 12 won, none lost: (12 - z * sqrt(12)) / 40
    assert paired_gain_bound(start, clear, z=1.645) == pytest.approx((12 - 1.645 * 12**0.5) / 40)
    assert paired_gain_bound(torch.zeros(0), torch.zeros(0), z=1.645) == 0.0


def test_early_stopping_with_dev_gain_z_keeps_the_start_over_a_noisy_gain(tiny_bi):
    """Per-row dev scores: a one-row gain replaces the start with dev_gain_z = 0, not with 1.645; a clear
    gain does either way. The reported dev scores stay the plain means."""
    from spacy_gliclass.modeling import GLiClassModel

    start_rows = torch.tensor([1.0] * 10 + [0.0] * 30)
    noisy, clear = start_rows.clone(), start_rows.clone()
    noisy[10] = 1.0
    clear[10:22] = 1.0

    def run(z: float, later: torch.Tensor) -> tuple[GLiClassModel, dict, list[dict]]:
        config = PPOConfig(
            max_steps=4, batch_size=6, encoder_lr=3e-3, head_lr=3e-3, eval_every=2, patience=0, dev_gain_z=z
        )
        model, processor = GLiClassModel.from_pretrained(tiny_bi)
        start = {k: v.clone() for k, v in model.state_dict().items()}
        scores = iter([start_rows, later, start_rows])  # step 0, step 2, step 4
        history = PPOTrainer(model, processor, {"f1": f1_reward}, {}, config).train(
            toy_examples(), dev_score=lambda _: next(scores)
        )
        return model, start, history

    def is_start(model, start) -> bool:
        return all(torch.equal(v, start[k]) for k, v in model.state_dict().items())

    model, start, history = run(1.645, noisy)
    assert is_start(model, start)
    assert [s["dev_score"] for s in history if "dev_score" in s] == pytest.approx([11 / 40, 10 / 40])
    model, start, _ = run(0.0, noisy)
    assert not is_start(model, start)
    model, start, _ = run(1.645, clear)
    assert not is_start(model, start)


def test_early_stopping_patience_waits_while_small_dev_gains_build_up(tiny_bi):
    """With dev_gain_z, gains too small to be sure of do not replace the start but do keep training
    going: patience counts only evaluations that do not raise the plain dev score."""
    from spacy_gliclass.modeling import GLiClassModel

    config = PPOConfig(
        max_steps=8, batch_size=6, encoder_lr=3e-3, head_lr=3e-3, eval_every=2, patience=2, dev_gain_z=1.645
    )
    model, processor = GLiClassModel.from_pretrained(tiny_bi)
    kept: list[dict[str, torch.Tensor]] = []
    start_rows = torch.tensor([1.0] * 10 + [0.0] * 30)

    def one_more_row_each_time(m) -> torch.Tensor:  # step 0: the start; then 1, 2, 3, 3 more rows right
        kept.append({k: v.clone() for k, v in m.state_dict().items()})
        rows = start_rows.clone()
        rows[10 : 10 + min(len(kept) - 1, 3)] = 1.0
        return rows

    history = PPOTrainer(model, processor, {"f1": f1_reward}, {}, config).train(
        toy_examples(), dev_score=one_more_row_each_time
    )
    assert len(history) == 8  # one and two rows clear no sign test, yet training went on
    # three rows with none lost clear it (3 − 1.645·√3 > 0): the weights of step 6 are kept
    assert all(torch.equal(v, kept[3][k]) for k, v in model.state_dict().items())
