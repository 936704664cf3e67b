/* saferlhf-ppo-lag.c -- Safe RLHF's PPO-Lagrangian (and its PPO and reward-shaping baselines):
 * maximise the reward model's score subject to the cost model's expected score staying under a
 * threshold.  The work is in lib/ppo_trainer.c, lib/ppo_step.c, lib/ppo.c and lib/lagrange.c;
 * this file wires options to them. */
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "dist.h"
#include "lagrange.h"
#include "ppo_trainer.h"
#include "template.h"
#include "tool.h"
#include "trainer.h"

enum {
    OPT_ACTOR = TOOL_OPT_USER, OPT_RM, OPT_CM, OPT_REF, OPT_RCRIT, OPT_CCRIT, OPT_TEMPLATE,
    OPT_RESUME, OPT_LOG, OPT_PTX, OPT_SAVE_CRITICS, OPT_LAMBDA_UPDATE, OPT_ASCHED, OPT_CSCHED,
    OPT_ALLOW_EXTRA,
    OPT_NUM, /* numeric options from here (table below) */
};

/* A numeric option: its name, where it goes, its kind and range. */
struct num_opt {
    const char *name;
    char kind;         /* 'i' int, 'l' int64, 'f' float, 'd' double */
    void *p;
    double min, max;   /* inclusive */
};

static int num_opts(struct srl_ppo_train_opts *o, struct num_opt *t)
{
    const double inf = 1e300;
    struct num_opt all[] = {
        {"max-prompt-length", 'i', &o->max_prompt_length, 1, 1 << 24},
        {"max-new-tokens", 'i', &o->max_new_tokens, 1, 1 << 24},
        {"temperature", 'f', &o->sample.temperature, 1e-6, inf},
        {"top-k", 'i', &o->sample.top_k, 0, 1 << 30},
        {"top-p", 'f', &o->sample.top_p, 1e-9, 1},
        {"repetition-penalty", 'f', &o->sample.repetition_penalty, 1e-9, inf},
        {"num-return-sequences", 'i', &o->num_return_sequences, 1, 1 << 16},
        {"rollout-batch-size", 'i', &o->rollout_batch_size, 1, 1 << 20},
        {"ppo-epochs", 'i', &o->ppo_epochs, 1, 1 << 20},
        {"minibatches", 'i', &o->minibatches, 1, 1 << 20},
        {"actor-lr", 'd', &o->actor_lr, 0, inf},
        {"critic-lr", 'd', &o->critic_lr, 0, inf},
        {"actor-warmup-ratio", 'd', &o->actor_warmup_ratio, 0, 1},
        {"critic-warmup-ratio", 'd', &o->critic_warmup_ratio, 0, 1},
        {"actor-weight-decay", 'd', &o->actor_weight_decay, 0, inf},
        {"critic-weight-decay", 'd', &o->critic_weight_decay, 0, inf},
        {"clip", 'd', &o->clip_grad, 0, inf},
        {"kl-coeff", 'f', &o->ppo.kl_coeff, 0, inf},
        {"clip-range-ratio", 'f', &o->ppo.clip_range_ratio, 1e-9, inf},
        {"clip-range-value", 'f', &o->ppo.clip_range_value, 1e-9, inf},
        {"clip-range-score", 'f', &o->ppo.clip_range_score, 0, inf},
        {"gamma", 'f', &o->ppo.gamma, 0, 1},
        {"gae-lambda", 'f', &o->ppo.gae_lambda, 0, 1},
        {"lambda-init", 'd', &o->lag.lambda_init, 0, inf},
        {"lambda-lr", 'd', &o->lag.lambda_lr, 0, inf},
        {"lambda-max", 'd', &o->lag.lambda_max, 0, inf},
        {"lambda-update-delay", 'l', &o->lag.update_delay, 0, 1e15},
        {"episode-cost-window", 'i', &o->lag.window, 1, 1 << 24},
        {"threshold", 'd', &o->lag.threshold, -inf, inf},
        {"pid-kp", 'd', &o->lag.kp, 0, inf},
        {"pid-ki", 'd', &o->lag.ki, 0, inf},
        {"pid-kd", 'd', &o->lag.kd, 0, inf},
        {"ptx-coeff", 'd', &o->ptx_coeff, 1e-30, inf},
        {"epochs", 'i', &o->epochs, 1, 1 << 20},
        {"max-steps", 'l', &o->max_steps, 1, 1e15},
        {"save-every", 'l', &o->save_every, 1, 1e15},
        {"stop-after", 'l', &o->stop_after, 1, 1e15},
    };
    int n = (int)(sizeof all / sizeof *all);
    if (t) memcpy(t, all, sizeof all);
    return n;
}
#define MAX_NUM 48

static void usage(FILE *fp)
{
    struct srl_ppo_train_opts d;
    srl_ppo_train_opts_default(&d);
    fprintf(fp,
"Usage: saferlhf-ppo-lag --actor SFT_DIR --reward-model RM_DIR --cost-model CM_DIR\n"
"                        --prompts PROMPTS.jsonl -o OUT_DIR [options]\n"
"\n"
"PPO-Lagrangian (Safe RLHF): maximise the reward model's end score subject to the cost\n"
"model's expected end score <= --threshold, with a learned multiplier lambda.  Baselines:\n"
"--lambda-update none --lambda-init 0 is plain PPO; --lambda-update none --lambda-init K is\n"
"fixed reward shaping R - K C.  Defaults are the reference's scripts/ppo-lag.sh.\n"
"\n"
"Models (HF directories sharing the actor's tokenizer):\n"
"      --actor DIR             initial policy (SFT checkpoint)\n"
"      --reward-model DIR      reward model (score head)\n"
"      --cost-model DIR        cost model (score head; cost > 0 = unsafe)\n"
"      --ref-model DIR         reference policy for the KL penalty [--actor]\n"
"      --reward-critic DIR     initial reward critic [--reward-model]\n"
"      --cost-critic DIR       initial cost critic [--cost-model]\n"
"      --allow-extra-tensors   ignore (with a warning) tensors a model does not use\n"
"Data and output:\n"
"  -p, --prompts FILE          RL prompts, JSONL (repeatable)\n"
"      --ptx FILE              SFT data mixed into the actor loss (repeatable)\n"
"      --ptx-coeff X           weight of the PTX loss [%g]\n"
"  -o, --output DIR            actor checkpoint written (replaced as a whole)\n"
"      --save-critics          also write the final critics (OUT_DIR/reward_critic, cost_critic)\n"
"      --resume DIR            continue the run saved in DIR (same options and data)\n"
"      --log FILE              append one JSON object per step\n"
"      --template NAME         %s [the actor's, else saferlhf]\n"
"Rollouts:\n"
"      --max-prompt-length N   prompt tokens kept, from the end [%d]\n"
"      --max-new-tokens N      response tokens at most [%d]\n"
"      --temperature X         [%g]\n"
"      --top-k N               0: off [%d, HF's default]\n"
"      --top-p X               [%g]\n"
"      --repetition-penalty X  [%g]\n"
"      --num-return-sequences N  samples per prompt [%d]\n"
"      --rollout-batch-size N  prompts per rollout batch [%d]\n"
"PPO:\n"
"      --ppo-epochs N          passes over each rollout batch [%d]\n"
"      --minibatches N         optimiser steps per pass [%d]\n"
"      --epochs N              passes over the prompts [%d]\n"
"      --max-steps N           stop after N optimiser steps (overrides --epochs)\n"
"      --actor-lr X            [%g]\n"
"      --critic-lr X           [%g]\n"
"      --actor-lr-schedule S   constant, constant_with_warmup, linear, cosine [%s]\n"
"      --critic-lr-schedule S  [%s]\n"
"      --actor-warmup-ratio X  [%g]\n"
"      --critic-warmup-ratio X  [%g]\n"
"      --actor-weight-decay X  [%g]\n"
"      --critic-weight-decay X  [%g]\n"
"      --clip X                global gradient-norm clip, 0 off [%g]\n"
"      --kl-coeff X            beta of the per-token KL penalty [%g]\n"
"      --clip-range-ratio X    PPO ratio clip [%g]\n"
"      --clip-range-value X    critic value clip [%g]\n"
"      --clip-range-score X    clamp of each per-token reward and cost [%g]\n"
"      --gamma X               discount [%g]\n"
"      --gae-lambda X          GAE lambda [%g]\n"
"Lagrange multiplier:\n"
"      --lambda-update M       sgd (on log lambda), pid, none [sgd]\n"
"      --lambda-init X         [%g]\n"
"      --lambda-lr X           [%g]\n"
"      --lambda-max X          0: unbounded [%g]\n"
"      --lambda-update-delay N  steps before the first update [%lld]\n"
"      --episode-cost-window N  recent episode costs averaged [%d]\n"
"      --threshold X           cost limit [%g]\n"
"      --pid-kp X, --pid-ki X, --pid-kd X  PID gains [%g, %g, %g]\n"
"Checkpoints:\n"
"      --save-every N          resumable checkpoint every N steps [only at the end]\n"
"      --stop-after N          leave after N steps with a resumable checkpoint\n"
"\n",
            d.ptx_coeff, srl_template_names(), d.max_prompt_length, d.max_new_tokens,
            d.sample.temperature, d.sample.top_k, d.sample.top_p, d.sample.repetition_penalty,
            d.num_return_sequences, d.rollout_batch_size, d.ppo_epochs, d.minibatches,
            d.epochs, d.actor_lr, d.critic_lr, srl_lr_kind_name(d.actor_schedule),
            srl_lr_kind_name(d.critic_schedule), d.actor_warmup_ratio, d.critic_warmup_ratio,
            d.actor_weight_decay, d.critic_weight_decay, d.clip_grad, d.ppo.kl_coeff,
            d.ppo.clip_range_ratio, d.ppo.clip_range_value, d.ppo.clip_range_score,
            d.ppo.gamma, d.ppo.gae_lambda, d.lag.lambda_init, d.lag.lambda_lr,
            d.lag.lambda_max, (long long)d.lag.update_delay, d.lag.window, d.lag.threshold,
            d.lag.kp, d.lag.ki, d.lag.kd);
    tool_common_help(fp);
}

static int parse_num(const struct num_opt *n, const char *arg)
{
    double x;
    long v;
    if (n->kind == 'i' || n->kind == 'l') {
        if (parse_int(arg, (long)n->min, (long)n->max, &v) < 0) goto bad;
        if (n->kind == 'i') *(int *)n->p = (int)v;
        else *(int64_t *)n->p = v;
        return 0;
    }
    if (parse_float(arg, &x) < 0 || !(x >= n->min && x <= n->max)) goto bad;
    if (n->kind == 'f') *(float *)n->p = (float)x;
    else *(double *)n->p = x;
    return 0;
bad:
    return usage_error("invalid --%s '%s'", n->name, arg);
}

static int parse_args(int argc, char **argv, struct srl_ppo_train_opts *o,
                      struct tool_common *common)
{
    struct num_opt nums[MAX_NUM];
    int nn = num_opts(o, nums), c, rc;
    struct option lopts[MAX_NUM + 32] = {
        TOOL_COMMON_OPTIONS,
        { "actor", 1, NULL, OPT_ACTOR }, { "reward-model", 1, NULL, OPT_RM },
        { "cost-model", 1, NULL, OPT_CM }, { "ref-model", 1, NULL, OPT_REF },
        { "reward-critic", 1, NULL, OPT_RCRIT }, { "cost-critic", 1, NULL, OPT_CCRIT },
        { "prompts", 1, NULL, 'p' }, { "output", 1, NULL, 'o' },
        { "template", 1, NULL, OPT_TEMPLATE }, { "resume", 1, NULL, OPT_RESUME },
        { "log", 1, NULL, OPT_LOG }, { "ptx", 1, NULL, OPT_PTX },
        { "save-critics", 0, NULL, OPT_SAVE_CRITICS },
        { "allow-extra-tensors", 0, NULL, OPT_ALLOW_EXTRA },
        { "lambda-update", 1, NULL, OPT_LAMBDA_UPDATE },
        { "actor-lr-schedule", 1, NULL, OPT_ASCHED },
        { "critic-lr-schedule", 1, NULL, OPT_CSCHED },
    };
    int base = 0;
    while (lopts[base].name) base++;
    for (int i = 0; i < nn; i++)
        lopts[base + i] = (struct option){ nums[i].name, 1, NULL, OPT_NUM + i };
    lopts[base + nn] = (struct option){ NULL, 0, NULL, 0 };
    while ((c = getopt_long(argc, argv, "p:o:" TOOL_COMMON_SHORT, lopts, NULL)) != -1) {
        switch (c) {
        case OPT_ACTOR: o->actor = optarg; break;
        case OPT_RM: o->reward_model = optarg; break;
        case OPT_CM: o->cost_model = optarg; break;
        case OPT_REF: o->ref_model = optarg; break;
        case OPT_RCRIT: o->reward_critic = optarg; break;
        case OPT_CCRIT: o->cost_critic = optarg; break;
        case 'o': o->output = optarg; break;
        case OPT_RESUME: o->resume = optarg; break;
        case OPT_LOG: o->log_path = optarg; break;
        case OPT_SAVE_CRITICS: o->save_critics = true; break;
        case OPT_ALLOW_EXTRA: o->load_flags |= SRL_LOAD_ALLOW_EXTRA; break;
        case 'p':
        case OPT_PTX: {
            const char **list = c == 'p' ? o->prompts : o->ptx;
            int *n = c == 'p' ? &o->n_prompts : &o->n_ptx;
            if (*n == SRL_PPO_MAX_FILES)
                return usage_error("at most %d files per option", SRL_PPO_MAX_FILES);
            list[(*n)++] = optarg;
            break;
        }
        case OPT_TEMPLATE:
            if (!srl_template_find(optarg))
                return usage_error("unknown --template '%s' (expected one of %s)", optarg,
                                   srl_template_names());
            o->template_name = optarg;
            break;
        case OPT_LAMBDA_UPDATE:
            if (srl_lambda_update_parse(optarg, &o->lag.update) < 0)
                return usage_error("invalid --lambda-update '%s' (expected sgd, pid or none)",
                                   optarg);
            break;
        case OPT_ASCHED:
        case OPT_CSCHED:
            if (srl_lr_kind_parse(optarg, c == OPT_ASCHED ? &o->actor_schedule
                                                          : &o->critic_schedule) < 0)
                return usage_error("invalid --%s-lr-schedule '%s'",
                                   c == OPT_ASCHED ? "actor" : "critic", optarg);
            break;
        case 'h': usage(stdout); return -1;
        default:
            if (c >= OPT_NUM && c < OPT_NUM + nn) {
                if ((rc = parse_num(&nums[c - OPT_NUM], optarg)) != 0) return rc;
                break;
            }
            rc = tool_common_opt(c, optarg, common);
            if (rc == 0) break;
            if (rc == 1) return -1;
            if (c == '?')
                fprintf(stderr, "Try '%s --help' for more information.\n", srl_log_get_prog());
            return SRL_EXIT_USAGE;
        }
    }
    if (optind != argc) return usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->actor) return usage_error("no actor (--actor)");
    if (!o->reward_model || !o->cost_model)
        return usage_error("give --reward-model and --cost-model");
    if (o->n_prompts == 0) return usage_error("no prompts (--prompts)");
    if (!o->output) return usage_error("no output directory (-o)");
    if (!srl_dist_is_root()) common->verbosity = -1; /* rank 0 reports */
    tool_common_apply(common);
    struct srl_lagrange lag = { 0 };
    rc = srl_lagrange_init(&lag, &o->lag); /* logs why it refuses */
    srl_lagrange_free(&lag);
    if (rc < 0) return usage_error("invalid multiplier options");
    o->seed = common->seed;
    o->quiet = common->verbosity < 0;
    o->verbosity = common->verbosity;
    return 0;
}

static int ppo_main(int argc, char **argv)
{
    struct srl_ppo_train_opts o;
    struct tool_common common = TOOL_COMMON_INIT;
    struct srl_device dev;
    int rc, ret = SRL_EXIT_FAILURE;

    tool_init(argv[0]);
    srl_ppo_train_opts_default(&o);
    if ((rc = parse_args(argc, argv, &o, &common)) != 0) return rc < 0 ? SRL_EXIT_OK : rc;
    if (srl_device_resolve(common.device, &dev) < 0) return SRL_EXIT_USAGE;
    if (dev.kind != SRL_DEVICE_CPU && strcmp(common.device, "auto") != 0)
        return print_error("the CUDA training backend is not available yet; use --device cpu");
    srl_trainer_catch_signals();
    rc = srl_ppo_train(&o, NULL);
    if (rc == SRL_TRAIN_INTERRUPTED) ret = 128 + srl_trainer_signal();
    else if (rc == SRL_TRAIN_STOPPED || rc == 0) ret = SRL_EXIT_OK;
    else if (rc == SRL_ENUMERIC) {
        print_error("numerical failure (NaN or Inf); the last checkpoint is left as it was");
        ret = SRL_EXIT_NUMERIC;
    }
    else print_error("training failed");
    if (rc == 0) srl_log_info("wrote %s", o.output);
    if (close_stdout() < 0 && ret == SRL_EXIT_OK) ret = SRL_EXIT_FAILURE;
    return ret;
}

int main(int argc, char **argv) { return srl_dist_main(argc, argv, ppo_main); }
