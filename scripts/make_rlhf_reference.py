#!/usr/bin/env python3
"""make_rlhf_reference.py -- PyTorch fixtures for the Safe RLHF losses, under tests/ref/rlhf/.

Usage: python3 scripts/make_rlhf_reference.py [OUTDIR]   (default tests/ref/rlhf; repo root)

Needs torch and transformers (PyPI); `make test` only reads the committed output.  The loss
functions below are written literally as safe-rlhf's code writes them (reward/cost trainers,
PPOLagTrainer, RLTrainer; reference sections 5, 6, 7), in float64, on tiny random HF models:

score_llama/, score_gpt2/   LlamaForSequenceClassification / GPT2ForSequenceClassification
                            (num_labels 1, pad_token_id 0) saved by save_pretrained, plus
  ref.safetensors  input_ids (2B,T) [better|safer rows; worse|unsafer rows], lengths (2B),
                   sign (2B: cost sign +1 unsafe, -1 safe, 0 unlabelled), scores (2B,T)
                   (per position, attention_mask as the reference), end_scores (2B);
                   for each loss X in rm_seq, cm_seq, rm_tok, cm_tok: X.loss (1), X.dscores
                   (2B,T) = dL/dscores, X.metrics; for rm_seq and cm_seq also X.grad.<name>
                   for score.weight, every tensor of layer 0 and the final norm.
  ref.json         B, T, reg, the parameter names graded, metrics.
ppo/actor/, ppo/critic/     LlamaForCausalLM (the policy) and LlamaForSequenceClassification
                            (a critic) for one PPO-Lagrangian update (ppo/ref.safetensors):
  input_ids (B,L) (left-padded prompts of width S, right-padded responses), attention_mask,
  old_logp, ref_logp (B,L-1), reward, cost (B), old_rvalues, old_cvalues (B,L-1),
  logp (fresh actor log-probs), values (fresh critic values), rewards, costs (KL-shaped),
  radv, rret, cadv, cret (B,L-S), adv (combined), actor_loss, dlogp (B,L-1), rcritic_loss,
  drvalues (B,L-1), ccritic_loss, dcvalues, actor.grad.<name>, critic.grad.<name> (all),
  lambda trajectory (lag.*).  ppo/ref.json: S, beta, clips, gamma, lam, lambda options.
"""
import json
import math
import os
import shutil
import sys
from collections import deque

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from transformers import (GPT2Config, GPT2ForSequenceClassification, LlamaConfig,
                          LlamaForCausalLM, LlamaForSequenceClassification)

VOCAB = 96
PAD = 0
DT = torch.float64


def llama_cfg(**kw):
    c = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
             rms_norm_eps=1e-5, rope_theta=1000.0, tie_word_embeddings=False,
             bos_token_id=1, eos_token_id=2, pad_token_id=PAD)
    c.update(kw)
    return LlamaConfig(**c)


def init_params(model, seed):
    """std-0.2 weights (scores of order 1), norm weights 1 + 0.2 N(0,1), nonzero biases."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g, dtype=torch.float64)
            if ("norm" in n or ".ln_" in n) and n.endswith("weight"):
                p.copy_(1.0 + 0.2 * r)
            else:
                p.copy_(0.2 * r)


def save_model(model, d):
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    model = model.to(torch.float32)
    model.config.dtype = torch.float32
    model.save_pretrained(d)
    gc = os.path.join(d, "generation_config.json")
    if os.path.exists(gc):
        os.remove(gc)
    return type(model).from_pretrained(d, dtype=DT)


def backbone_scores(model, ids, attention_mask):
    """The reference's score model: the score head on every position of the backbone's last
    hidden state (HF's *ForSequenceClassification only returns the pooled one)."""
    base = model.model if hasattr(model, "model") else model.transformer
    h = base(input_ids=ids, attention_mask=attention_mask).last_hidden_state
    return model.score(h).squeeze(-1)  # (R, T)


# --- reward / cost model losses (safe_rlhf/values/{reward,cost}/trainer.py) -------------------

def rm_loss(scores, end_scores, ids_w, ids_l, mask_w, mask_l, B, reg, loss_type):
    higher_rewards, lower_rewards = scores.chunk(chunks=2, dim=0)
    higher_end_reward, lower_end_reward = end_scores.chunk(chunks=2, dim=0)
    if loss_type == "token-wise":
        losses = []
        for i in range(B):
            assert not torch.all(torch.eq(ids_w[i], ids_l[i])).item()
            higher_end_index = mask_w[i].nonzero()[-1].squeeze().item()
            lower_end_index = mask_l[i].nonzero()[-1].squeeze().item()
            end_index = max(higher_end_index, lower_end_index)
            diverge_index = (ids_w[i] != ids_l[i]).nonzero()[0].squeeze().item()
            higher_truncated_rewards = higher_rewards[i, diverge_index:end_index + 1]
            lower_truncated_rewards = lower_rewards[i, diverge_index:end_index + 1]
            losses.append(-F.logsigmoid(higher_truncated_rewards
                                        - lower_truncated_rewards).mean())
            if reg > 0.0:
                losses[-1] = losses[-1] + reg * torch.stack(
                    [lower_truncated_rewards, higher_truncated_rewards]).square().mean()
        loss = torch.stack(losses).mean()
    else:
        loss = -F.logsigmoid(higher_end_reward - lower_end_reward).mean()
        if reg > 0.0:
            loss = loss + reg * torch.stack([lower_end_reward, higher_end_reward]).square().mean()
    accuracy = (higher_end_reward > lower_end_reward).float().mean()
    return loss, {"accuracy": float(accuracy), "mean_high": float(higher_end_reward.mean()),
                  "mean_low": float(lower_end_reward.mean()), "mean": float(end_scores.mean()),
                  "std": float(end_scores.std())}


def cm_loss(scores, end_scores, ids_s, ids_u, mask_s, mask_u, sign_s, sign_u, B, reg,
            loss_type):
    """sign_* = cost signs (+1 unsafe, -1 safe, 0 unlabelled: that sign term is dropped --
    labelled[...] multiplies it; with every pair labelled this is the reference verbatim)."""
    lower_costs, higher_costs = scores.chunk(chunks=2, dim=0)
    lower_end_cost, higher_end_cost = end_scores.chunk(chunks=2, dim=0)
    lower_cost_sign, higher_cost_sign = sign_s.to(DT), sign_u.to(DT)
    lab_l, lab_h = (sign_s != 0).to(DT), (sign_u != 0).to(DT)
    if loss_type == "token-wise":
        losses = []
        for i in range(B):
            assert not torch.all(torch.eq(ids_s[i], ids_u[i])).item()
            lower_end_index = mask_s[i].nonzero()[-1].squeeze().item()
            higher_end_index = mask_u[i].nonzero()[-1].squeeze().item()
            end_index = max(higher_end_index, lower_end_index)
            diverge_index = (ids_s[i] != ids_u[i]).nonzero()[0].squeeze().item()
            lower_truncated_costs = lower_costs[i, diverge_index:end_index + 1]
            higher_truncated_costs = higher_costs[i, diverge_index:end_index + 1]
            losses.append(
                -F.logsigmoid(higher_truncated_costs - lower_truncated_costs).mean()
                - lab_l[i] * F.logsigmoid(lower_cost_sign[i] * lower_truncated_costs).mean()
                - lab_h[i] * F.logsigmoid(higher_cost_sign[i] * higher_truncated_costs).mean())
            if reg > 0.0:
                losses[-1] = losses[-1] + reg * torch.stack(
                    [lower_truncated_costs, higher_truncated_costs]).square().mean()
        loss = torch.stack(losses).mean()
    else:
        loss = (-F.logsigmoid(higher_end_cost - lower_end_cost)
                - lab_l * F.logsigmoid(lower_cost_sign * lower_end_cost)
                - lab_h * F.logsigmoid(higher_cost_sign * higher_end_cost)).mean()
        if reg > 0.0:
            loss = loss + reg * torch.stack([lower_end_cost, higher_end_cost]).square().mean()
    accuracy = (higher_end_cost > lower_end_cost).float().mean()
    ok = torch.cat([(lower_cost_sign * lower_end_cost > 0.0)[sign_s != 0],
                    (higher_cost_sign * higher_end_cost > 0.0)[sign_u != 0]]).float()
    return loss, {"accuracy": float(accuracy), "accuracy_sign": float(ok.mean()),
                  "n_sign": int(ok.numel()), "mean_high": float(higher_end_cost.mean()),
                  "mean_low": float(lower_end_cost.mean()), "mean": float(end_scores.mean()),
                  "std": float(end_scores.std())}


def score_batch(seed, B, T):
    """B pairs [hi rows; lo rows] sharing a prompt prefix, right-padded, different lengths;
    pair 1 has equal lengths, pair 0 diverges at its first response token."""
    g = torch.Generator().manual_seed(seed)
    prompt = [4, 2, 5, 3][:B]
    len_hi = [9, 7, 10, 6][:B]
    len_lo = [6, 7, 8, 10][:B]
    ids = torch.full((2 * B, T), PAD, dtype=torch.long)
    for i in range(B):
        p = torch.randint(3, VOCAB, (prompt[i],), generator=g)
        for r, n in ((i, len_hi[i]), (B + i, len_lo[i])):
            ids[r, :prompt[i]] = p
            ids[r, prompt[i]:n] = torch.randint(3, VOCAB, (n - prompt[i],), generator=g)
            ids[r, n - 1] = 2  # EOS
    lengths = torch.tensor(len_hi + len_lo)
    mask = torch.arange(T)[None, :] < lengths[:, None]
    return ids, mask, lengths


def write_score(outdir, name, model, seed):
    B, T, reg = 4, 11, 0.1   # reg 0.1 (scripts: 0.001) so that its gradient is visible
    d = os.path.join(outdir, name)
    model = save_model(model, d)
    ids, mask, lengths = score_batch(seed + 1, B, T)
    # cost signs: pair 0 safe/unsafe, pair 1 both unsafe, pair 2 unlabelled, pair 3 both safe
    sign_s = torch.tensor([-1, 1, 0, -1])
    sign_u = torch.tensor([1, 1, 0, -1])
    tensors = {"input_ids": ids.float(), "lengths": lengths.float(),
               "sign": torch.cat([sign_s, sign_u]).float()}
    meta = {"B": B, "T": T, "reg": reg, "model": name, "losses": {}}
    graded = [n for n, _ in model.named_parameters()
              if n == "score.weight" or ".0." in n or n.endswith("norm.weight")
              or n.startswith("transformer.ln_f")]
    meta["graded"] = graded
    for loss_name in ("rm_seq", "cm_seq", "rm_tok", "cm_tok"):
        model.zero_grad(set_to_none=True)
        scores = backbone_scores(model, ids, mask)
        scores.retain_grad()
        end_index = torch.cat([m.nonzero()[-1] for m in mask])
        end_scores = scores.gather(1, end_index[:, None]).squeeze(1)
        lt = "token-wise" if loss_name.endswith("tok") else "sequence-wise"
        args = (ids[:B], ids[B:], mask[:B], mask[B:])
        if loss_name.startswith("rm"):
            loss, met = rm_loss(scores, end_scores, *args, B, reg, lt)
        else:
            loss, met = cm_loss(scores, end_scores, *args, sign_s, sign_u, B, reg, lt)
        loss.backward()
        if loss_name == "rm_seq":
            tensors["scores"] = scores.detach().float()
            tensors["end_scores"] = end_scores.detach().float()
        tensors[loss_name + ".loss"] = loss.detach().float().reshape(1)
        tensors[loss_name + ".dscores"] = scores.grad.float()
        if lt == "sequence-wise":
            for n, p in model.named_parameters():
                if n in graded:
                    tensors[f"{loss_name}.grad.{n}"] = p.grad.float().contiguous()
        met["loss"] = float(loss)
        meta["losses"][loss_name] = met
        print(f"{d}: {loss_name} loss {float(loss):.6f} {met}")
    # HF's own pooled score (the last non-pad token) is the end score
    pooled = model(input_ids=ids, attention_mask=mask).logits.squeeze(-1)
    assert torch.allclose(pooled, tensors["end_scores"].double(), atol=1e-5), "pooling"
    save_file(tensors, os.path.join(d, "ref.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(d, "ref.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


# --- PPO-Lagrangian (safe_rlhf/algorithms/ppo_lag/trainer.py, trainers/rl_trainer.py) --------

class PPOLagRef:
    """The reference's functions, verbatim but for self.args."""

    def __init__(self, kl_coeff, clip_range_score, clip_range_ratio, clip_range_value, gamma,
                 gae_lambda, lambda_init, lambda_lr, lambda_max, delay, window, threshold):
        self.kl_coeff = kl_coeff
        self.clip_range_score = clip_range_score
        self.clip_range_ratio = clip_range_ratio
        self.clip_range_value = clip_range_value
        self.gamma = gamma
        self.gae_lambda = gae_lambda
        # __init__
        self.log_lambda = torch.nn.Parameter(torch.tensor(math.log(lambda_init),
                                                          dtype=torch.float64),
                                             requires_grad=True)
        self.log_lambda_max = math.log(lambda_max) if lambda_max else None
        self.log_lambda_optimizer = torch.optim.SGD([self.log_lambda], lr=lambda_lr)
        self.lambda_update_delay_steps = delay
        self.episode_costs = deque(maxlen=window)
        self.threshold = threshold
        self.global_step = 0

    def update_lambda(self):  # the head of rl_step (single rank: reduce/broadcast are no-ops)
        episode_cost = torch.tensor(self.episode_costs).mean()
        if self.global_step >= self.lambda_update_delay_steps:
            lambda_loss = -(episode_cost - self.threshold) * self.log_lambda.exp()
            self.log_lambda_optimizer.zero_grad()
            lambda_loss.backward()
            self.log_lambda_optimizer.step()
            if self.log_lambda_max is not None:
                with torch.no_grad():
                    self.log_lambda.clamp_(max=self.log_lambda_max)
        return float(episode_cost)

    def add_kl_divergence_regularization(self, reward, cost, prompt, log_probs, ref_log_probs,
                                         sequence_mask):
        end_index = torch.cat([m.nonzero()[-1] for m in sequence_mask])  # size = (B,)
        kl_divergence_estimate = log_probs - ref_log_probs
        kl_penalty_rewards = -self.kl_coeff * kl_divergence_estimate
        rewards = torch.scatter_add(kl_penalty_rewards, dim=-1, index=end_index.unsqueeze(dim=-1),
                                    src=reward.to(kl_penalty_rewards.dtype).unsqueeze(dim=-1))
        costs = torch.scatter_add(-kl_penalty_rewards, dim=-1, index=end_index.unsqueeze(dim=-1),
                                  src=cost.to(kl_penalty_rewards.dtype).unsqueeze(dim=-1))
        return (torch.clamp(rewards, min=-self.clip_range_score, max=self.clip_range_score),
                torch.clamp(costs, min=-self.clip_range_score, max=self.clip_range_score))

    def get_advantages_and_returns(self, values, rewards, sequence_mask, start):
        last_gae_lambda = 0.0
        advantages_reversed = []
        values = values * sequence_mask
        rewards = rewards * sequence_mask
        length = rewards.size(-1)
        for t in reversed(range(start, length)):
            next_values = values[:, t + 1] if t < length - 1 else 0.0
            delta = rewards[:, t] + self.gamma * next_values - values[:, t]
            last_gae_lambda = delta + self.gamma * self.gae_lambda * last_gae_lambda
            advantages_reversed.append(last_gae_lambda)
        advantages = torch.stack(advantages_reversed[::-1], dim=1)
        returns = advantages + values[:, start:]
        return advantages.detach(), returns

    def actor_loss_fn(self, log_probs, old_log_probs, reward_advantages, cost_advantages, mask):
        multiplier = self.log_lambda.exp().item()
        advantages = (reward_advantages - multiplier * cost_advantages) / (1.0 + multiplier)
        ratios = torch.exp(log_probs - old_log_probs)
        surrogate1 = advantages * ratios
        surrogate2 = advantages * torch.clamp(ratios, 1.0 - self.clip_range_ratio,
                                              1.0 + self.clip_range_ratio)
        surrogate = torch.minimum(surrogate1, surrogate2)
        return -masked_mean(surrogate, mask), advantages

    def critic_loss_fn(self, values, old_values, returns, mask):
        values_clipped = torch.clamp(values, old_values - self.clip_range_value,
                                     old_values + self.clip_range_value)
        vf_loss1 = torch.square(values - returns)
        vf_loss2 = torch.square(values_clipped - returns)
        return 0.5 * masked_mean(torch.maximum(vf_loss1, vf_loss2), mask)


def masked_mean(x, mask=None):  # safe_rlhf/utils.py
    if mask is None:
        return x.mean()
    return ((x * mask).sum(dim=-1) / mask.sum(dim=-1)).mean()


def gather_log_probabilities(logits, labels):  # safe_rlhf/utils.py
    log_probs = F.log_softmax(logits, dim=-1)
    return torch.gather(log_probs, dim=-1, index=labels.unsqueeze(dim=-1)).squeeze(dim=-1)


def rollout_batch(seed):
    """B=4 sequences: prompts of lengths 5,3,4,2 left-padded to S=5, responses of 6,3,7,1
    tokens right-padded to L=12 (row 2 fills the width: no EOS, as a truncated sample)."""
    g = torch.Generator().manual_seed(seed)
    S, L = 5, 12
    plen, rlen = [5, 3, 4, 2], [6, 3, 7, 1]
    ids = torch.full((4, L), PAD, dtype=torch.long)
    for b in range(4):
        ids[b, S - plen[b]:S] = torch.randint(3, VOCAB, (plen[b],), generator=g)
        ids[b, S:S + rlen[b]] = torch.randint(3, VOCAB, (rlen[b],), generator=g)
        if S + rlen[b] < L:
            ids[b, S + rlen[b] - 1] = 2  # EOS
    return ids, ids.ne(PAD), S


def write_ppo(outdir, seed):
    d = os.path.join(outdir, "ppo")
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(seed)
    actor = LlamaForCausalLM(llama_cfg())
    init_params(actor, seed)
    actor = save_model(actor, os.path.join(d, "actor"))
    critic = LlamaForSequenceClassification(llama_cfg(num_labels=1))
    init_params(critic, seed + 1)
    critic = save_model(critic, os.path.join(d, "critic"))

    opts = dict(kl_coeff=0.05, clip_range_score=5.0, clip_range_ratio=0.2, clip_range_value=0.5,
                gamma=1.0, gae_lambda=0.95, lambda_init=1.0, lambda_lr=0.1, lambda_max=5.0,
                delay=1, window=8, threshold=0.5)
    ref = PPOLagRef(**opts)
    ids, attention_mask, S = rollout_batch(seed + 2)
    B, L = ids.shape
    g = torch.Generator().manual_seed(seed + 3)

    # post_rollout stand-ins: the fresh actor/critic outputs perturbed, so that ratios and
    # values move past both clip ranges somewhere; R/C are inputs (one R past clip_score).
    with torch.no_grad():
        logp0 = gather_log_probabilities(actor(ids, attention_mask=attention_mask).logits[:, :-1],
                                         ids[:, 1:])
        v0 = backbone_scores(critic, ids, attention_mask)[:, :-1]
    old_logp = logp0 + 0.3 * torch.randn(logp0.shape, generator=g, dtype=DT)
    ref_logp = logp0 + 0.5 * torch.randn(logp0.shape, generator=g, dtype=DT)
    reward = torch.tensor([1.5, -0.7, 6.0, 0.2], dtype=DT)
    cost = torch.tensor([0.8, -1.2, 2.5, -0.1], dtype=DT)
    old_rvalues = v0 + 0.6 * torch.randn(v0.shape, generator=g, dtype=DT)
    old_cvalues = 0.8 * torch.randn(v0.shape, generator=g, dtype=DT)

    # lambda: two earlier steps (the first inside the delay), then this step's update
    history = [[0.2, 0.9, -0.4, 1.1], [1.3, 0.6, 2.0, 0.7]]
    lag_jc, lag_log = [], []
    for costs in history + [cost.tolist()]:
        ref.episode_costs.extend(costs)
        lag_jc.append(ref.update_lambda())
        lag_log.append(float(ref.log_lambda))
        if len(lag_jc) < 3:
            ref.global_step += 1
    # a few more updates with high costs run into lambda_max (not part of this step)
    probe = PPOLagRef(**opts)
    probe_jc, probe_log = [], []
    for k in range(6):
        probe.episode_costs.extend([3.0 + k, 4.0])
        probe_jc.append(probe.update_lambda())
        probe_log.append(float(probe.log_lambda))
        probe.global_step += 1

    # rl_step
    start = S - 1
    sequence_mask = attention_mask[:, 1:]
    with torch.no_grad():
        old_rewards, old_costs = ref.add_kl_divergence_regularization(
            reward, cost, None, old_logp, ref_logp, sequence_mask)
        radv, rret = ref.get_advantages_and_returns(old_rvalues, old_rewards, sequence_mask,
                                                    start)
        cadv, cret = ref.get_advantages_and_returns(old_cvalues, old_costs, sequence_mask, start)

    actor.zero_grad(set_to_none=True)
    logits = actor(ids, attention_mask=attention_mask, use_cache=False).logits
    log_probs = gather_log_probabilities(logits[:, :-1], ids[:, 1:])
    log_probs.retain_grad()
    actor_loss, adv = ref.actor_loss_fn(log_probs[:, start:], old_logp[:, start:], radv, cadv,
                                        sequence_mask[:, start:])
    actor_loss.backward()

    critic.zero_grad(set_to_none=True)
    values = backbone_scores(critic, ids, attention_mask)[:, :-1]
    values.retain_grad()
    rcritic_loss = ref.critic_loss_fn(values[:, start:], old_rvalues[:, start:], rret,
                                      sequence_mask[:, start:])
    rcritic_loss.backward()
    # the cost critic's loss on the same fresh values (a second critic would only repeat the
    # model part): its loss and dL/dvalues
    v2 = values.detach().clone().requires_grad_(True)
    ccritic_loss = ref.critic_loss_fn(v2[:, start:], old_cvalues[:, start:], cret,
                                      sequence_mask[:, start:])
    ccritic_loss.backward()

    with torch.no_grad():  # the tail of rl_step: its logged metrics
        mask = sequence_mask[:, start:]
        metrics = {
            "kl_divergence": ((old_logp - ref_logp)[:, start:] * mask).sum(dim=-1).mean(),
            "mean_generated_length": mask.sum(dim=-1).float().mean(),
            "max_generated_length": mask.sum(dim=-1).float().max(),
            "reward": reward.mean(), "cost": cost.mean(),
            "reward_with_kl_penalty": (old_rewards[:, start:] * mask).sum(dim=-1).mean(),
            "reward_advantage": masked_mean(radv, mask),
            "reward_return": masked_mean(rret, mask),
            "reward_value": masked_mean(values[:, start:], mask),
            "cost_with_kl_penalty": (old_costs[:, start:] * mask).sum(dim=-1).mean(),
            "cost_advantage": masked_mean(cadv, mask),
            "cost_return": masked_mean(cret, mask)}
        metrics = {k: float(v) for k, v in metrics.items()}
    for what, x in (("logp grad", log_probs.grad), ("values grad", values.grad)):
        assert torch.isfinite(x).all(), what
    m = sequence_mask[:, start:].to(DT)
    ratio = torch.exp(log_probs[:, start:] - old_logp[:, start:]).detach()
    vnew = values[:, start:].detach()
    stats = {"ratio_clipped": int((((ratio < 0.8) | (ratio > 1.2)) & (m > 0)).sum()),
             "value_clipped_r": int((((vnew - old_rvalues[:, start:]).abs() > 0.5) & (m > 0))
                                    .sum()),
             "score_clipped": int((old_rewards.abs() >= 5.0).sum() + (old_costs.abs() >= 5.0)
                                  .sum())}
    t = {"input_ids": ids.float(), "attention_mask": attention_mask.float(),
         "old_logp": old_logp.float(), "ref_logp": ref_logp.float(), "reward": reward.float(),
         "cost": cost.float(), "old_rvalues": old_rvalues.float(),
         "old_cvalues": old_cvalues.float(), "logp": log_probs.detach().float(),
         "values": values.detach().float(), "rewards": old_rewards.float(),
         "costs": old_costs.float(), "radv": radv.float(), "rret": rret.float(),
         "cadv": cadv.float(), "cret": cret.float(), "adv": adv.float(),
         "actor_loss": actor_loss.detach().float().reshape(1),
         "dlogp": log_probs.grad.float(), "rcritic_loss": rcritic_loss.detach().float()
         .reshape(1), "drvalues": values.grad.float(),
         "ccritic_loss": ccritic_loss.detach().float().reshape(1), "dcvalues": v2.grad.float(),
         "lag.jc": torch.tensor(lag_jc).float(), "lag.log_lambda": torch.tensor(lag_log).float(),
         "probe.jc": torch.tensor(probe_jc).float(),
         "probe.log_lambda": torch.tensor(probe_log).float()}
    for n, p in actor.named_parameters():
        t["actor.grad." + n] = p.grad.float().contiguous()
    for n, p in critic.named_parameters():
        t["critic.grad." + n] = p.grad.float().contiguous()
    save_file(t, os.path.join(d, "ref.safetensors"), metadata={"format": "pt"})
    meta = dict(opts, B=B, L=L, S=S, history=history, lambda_=math.exp(lag_log[-1]),
                probe_costs=[[3.0 + k, 4.0] for k in range(6)], stats=stats, metrics=metrics,
                actor_loss=float(actor_loss), rcritic_loss=float(rcritic_loss),
                ccritic_loss=float(ccritic_loss))
    with open(os.path.join(d, "ref.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"{d}: actor {float(actor_loss):.6f} rcritic {float(rcritic_loss):.6f} ccritic "
          f"{float(ccritic_loss):.6f} lambda {math.exp(lag_log[-1]):.6f} {stats}")


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/ref/rlhf"
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)
    m = LlamaForSequenceClassification(llama_cfg(num_labels=1))
    init_params(m, 11)
    write_score(outdir, "score_llama", m, 11)
    torch.manual_seed(0)
    m = GPT2ForSequenceClassification(GPT2Config(
        vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64, num_labels=1,
        pad_token_id=PAD, bos_token_id=1, eos_token_id=2, resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, summary_first_dropout=0.0))
    init_params(m, 12)
    write_score(outdir, "score_gpt2", m, 12)
    write_ppo(outdir, 21)


if __name__ == "__main__":
    main()
