/* saferlhf-ppo-lag.c -- Safe RLHF's PPO-Lagrangian (and its PPO and reward-shaping baselines):
 * maximise the reward model's score subject to the cost model's expected score staying under a
 * threshold.  The work is in lib/ppo_trainer.c, lib/ppo_step.c, lib/ppo.c and lib/lagrange.c;
 * this file wires options to them. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "lagrange.h"
#include "memplan.h"
#include "opt_table.h"
#include "ppo_trainer.h"
#include "template.h"
#include "tool.h"
#include "train_opts.h"
#include "trainer.h"

enum {
    OPT_ACTOR = TOOL_OPT_USER, OPT_RM, OPT_CM, OPT_REF, OPT_RCRIT, OPT_CCRIT, OPT_TEMPLATE,
    OPT_RESUME, OPT_PTX, OPT_SAVE_CRITICS, OPT_LAMBDA_UPDATE, OPT_PROMPT_FIELD, OPT_ALLOW_EXTRA,
    OPT_DRY_RUN,
    OPT_NUM, /* options of the table nums from here */
};

#define P(field) offsetof(struct srl_ppo_train_opts, field)

/* The numeric options of PPO-Lagrangian (the loop ones are the shared table's, train_opts.h). */
static const struct opt_def nums[] = {
    { "max-prompt-length", "N", OPT_INT, P(max_prompt_length), 1, 1 << 24, "", NULL },
    { "max-new-tokens", "N", OPT_INT, P(max_new_tokens), 1, 1 << 24, "", NULL },
    { "temperature", "X", OPT_FLOAT, P(sample.temperature), 1e-6, OPT_INF, "", NULL },
    { "top-k", "N", OPT_INT, P(sample.top_k), 0, 1 << 30, "", NULL },
    { "top-p", "X", OPT_FLOAT, P(sample.top_p), 1e-9, 1, "", NULL },
    { "repetition-penalty", "X", OPT_FLOAT, P(sample.repetition_penalty), 1e-9, OPT_INF, "",
      NULL },
    { "num-return-sequences", "N", OPT_INT, P(num_return_sequences), 1, 1 << 16, "", NULL },
    { "rollout-batch-size", "N", OPT_INT, P(rollout_batch_size), 1, 1 << 20, "", NULL },
    { "ppo-epochs", "N", OPT_INT, P(ppo_epochs), 1, 1 << 20, "", NULL },
    { "minibatches", "N", OPT_INT, P(minibatches), 1, 1 << 20, "", NULL },
    { "actor-lr", "X", OPT_DOUBLE, P(actor_lr), 0, OPT_INF, "", NULL },
    { "critic-lr", "X", OPT_DOUBLE, P(critic_lr), 0, OPT_INF, "", NULL },
    { "actor-lr-schedule", "S", OPT_LR_KIND, P(actor_schedule), 0, 0, "", NULL },
    { "critic-lr-schedule", "S", OPT_LR_KIND, P(critic_schedule), 0, 0, "", NULL },
    { "actor-warmup-ratio", "X", OPT_DOUBLE, P(actor_warmup_ratio), 0, 1, "", NULL },
    { "critic-warmup-ratio", "X", OPT_DOUBLE, P(critic_warmup_ratio), 0, 1, "", NULL },
    { "actor-weight-decay", "X", OPT_DOUBLE, P(actor_weight_decay), 0, OPT_INF, "", NULL },
    { "critic-weight-decay", "X", OPT_DOUBLE, P(critic_weight_decay), 0, OPT_INF, "", NULL },
    { "kl-coeff", "X", OPT_FLOAT, P(ppo.kl_coeff), 0, OPT_INF, "", NULL },
    { "clip-range-ratio", "X", OPT_FLOAT, P(ppo.clip_range_ratio), 1e-9, OPT_INF, "", NULL },
    { "clip-range-value", "X", OPT_FLOAT, P(ppo.clip_range_value), 1e-9, OPT_INF, "", NULL },
    { "clip-range-score", "X", OPT_FLOAT, P(ppo.clip_range_score), 0, OPT_INF, "", NULL },
    { "gamma", "X", OPT_FLOAT, P(ppo.gamma), 0, 1, "", NULL },
    { "gae-lambda", "X", OPT_FLOAT, P(ppo.gae_lambda), 0, 1, "", NULL },
    { "lambda-init", "X", OPT_DOUBLE, P(lag.lambda_init), 0, OPT_INF, "", NULL },
    { "lambda-lr", "X", OPT_DOUBLE, P(lag.lambda_lr), 0, OPT_INF, "", NULL },
    { "lambda-max", "X", OPT_DOUBLE, P(lag.lambda_max), 0, OPT_INF, "", NULL },
    { "lambda-update-delay", "N", OPT_INT64, P(lag.update_delay), 0, OPT_INF, "", NULL },
    { "episode-cost-window", "N", OPT_INT, P(lag.window), 1, 1 << 24, "", NULL },
    { "threshold", "X", OPT_DOUBLE, P(lag.threshold), -OPT_INF, OPT_INF, "", NULL },
    { "pid-kp", "X", OPT_DOUBLE, P(lag.kp), 0, OPT_INF, "", NULL },
    { "pid-ki", "X", OPT_DOUBLE, P(lag.ki), 0, OPT_INF, "", NULL },
    { "pid-kd", "X", OPT_DOUBLE, P(lag.kd), 0, OPT_INF, "", NULL },
    { "ptx-coeff", "X", OPT_DOUBLE, P(ptx_coeff), 1e-30, OPT_INF, "", NULL },
};
enum { N_NUMS = sizeof nums / sizeof *nums };

/* The shared loop options (epochs, steps, clip, checkpoints, log) go through a struct
 * srl_train_opts. */
static void loop_from_ppo(const struct srl_ppo_train_opts *p, struct srl_train_opts *t)
{
    srl_train_opts_default(t);
    t->epochs = p->epochs;
    t->max_steps = p->max_steps;
    t->clip = p->clip_grad;
    t->save_every = p->save_every;
    t->stop_after = p->stop_after;
    t->log_path = p->log_path;
    t->zero_stage = p->zero_stage;
}

static void loop_to_ppo(const struct srl_train_opts *t, struct srl_ppo_train_opts *p)
{
    p->epochs = t->epochs;
    p->max_steps = t->max_steps;
    p->clip_grad = t->clip;
    p->save_every = t->save_every;
    p->stop_after = t->stop_after;
    p->log_path = t->log_path;
    p->zero_stage = t->zero_stage;
}

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
"  -p, --prompts FILE          RL prompts (repeatable): JSON Lines or a JSON array of\n"
"                              records or strings, or a JSON object holding a list\n"
"      --prompt-field NAME     that list [the object's only list of records or strings]\n"
"      --ptx FILE              SFT data mixed into the actor loss (repeatable)\n"
"      --ptx-coeff X           weight of the PTX loss [%g]\n"
"  -o, --output DIR            actor checkpoint written (replaced as a whole)\n"
"      --save-critics          also write the final critics (OUT_DIR/reward_critic, cost_critic)\n"
"      --resume DIR            continue the run saved in DIR (same options and data)\n"
"      --dry-run[=RANKS]       print the memory plan per rank (of this run's ranks or\n"
"                              RANKS) from the models' configs and exit\n"
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
"      --actor-lr X            [%g]\n"
"      --critic-lr X           [%g]\n"
"      --actor-lr-schedule S   constant, constant_with_warmup, linear, cosine [%s]\n"
"      --critic-lr-schedule S  [%s]\n"
"      --actor-warmup-ratio X  [%g]\n"
"      --critic-warmup-ratio X  [%g]\n"
"      --actor-weight-decay X  [%g]\n"
"      --critic-weight-decay X  [%g]\n"
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
"\n",
            d.ptx_coeff, srl_template_names(), d.max_prompt_length, d.max_new_tokens,
            d.sample.temperature, d.sample.top_k, d.sample.top_p, d.sample.repetition_penalty,
            d.num_return_sequences, d.rollout_batch_size, d.ppo_epochs, d.minibatches,
            d.actor_lr, d.critic_lr, srl_lr_kind_name(d.actor_schedule),
            srl_lr_kind_name(d.critic_schedule), d.actor_warmup_ratio, d.critic_warmup_ratio,
            d.actor_weight_decay, d.critic_weight_decay, d.ppo.kl_coeff,
            d.ppo.clip_range_ratio, d.ppo.clip_range_value, d.ppo.clip_range_score,
            d.ppo.gamma, d.ppo.gae_lambda, d.lag.lambda_init, d.lag.lambda_lr,
            d.lag.lambda_max, (long long)d.lag.update_delay, d.lag.window, d.lag.threshold,
            d.lag.kp, d.lag.ki, d.lag.kd);
    struct srl_train_opts loop;
    loop_from_ppo(&d, &loop);
    fputs("Training options (as in saferlhf-sft and saferlhf-train-rm):\n", fp);
    train_opts_help(fp, TRAIN_OPTS_LOOP, &loop, 30);
    fputc('\n', fp);
    tool_common_help(fp);
}

static int parse_args(int argc, char **argv, struct srl_ppo_train_opts *o,
                      struct tool_common *common, int *dry_run)
{
    static const struct option named[] = {
        TOOL_COMMON_OPTIONS,
        { "actor", 1, NULL, OPT_ACTOR }, { "reward-model", 1, NULL, OPT_RM },
        { "cost-model", 1, NULL, OPT_CM }, { "ref-model", 1, NULL, OPT_REF },
        { "reward-critic", 1, NULL, OPT_RCRIT }, { "cost-critic", 1, NULL, OPT_CCRIT },
        { "prompts", 1, NULL, 'p' }, { "prompt-field", 1, NULL, OPT_PROMPT_FIELD },
        { "output", 1, NULL, 'o' },
        { "template", 1, NULL, OPT_TEMPLATE }, { "resume", 1, NULL, OPT_RESUME },
        { "ptx", 1, NULL, OPT_PTX }, { "save-critics", 0, NULL, OPT_SAVE_CRITICS },
        { "allow-extra-tensors", 0, NULL, OPT_ALLOW_EXTRA },
        { "lambda-update", 1, NULL, OPT_LAMBDA_UPDATE },
        { "dry-run", 2, NULL, OPT_DRY_RUN },
    };
    enum { N_NAMED = sizeof named / sizeof *named };
    struct option lopts[N_NAMED + N_NUMS + TRAIN_OPT_ROWS + 1];
    struct srl_train_opts loop;
    int n = N_NAMED, c, rc;
    memcpy(lopts, named, sizeof named);
    n += opt_defs_longopts(nums, N_NUMS, OPT_NUM, lopts + n);
    n += train_opts_longopts(TRAIN_OPTS_LOOP, lopts + n);
    lopts[n] = (struct option){ NULL, 0, NULL, 0 };
    loop_from_ppo(o, &loop);
    while ((c = tool_getopt(argc, argv, "p:o:" TOOL_COMMON_SHORT, lopts, common, &rc)) != -1) {
        switch (c) {
        case TOOL_GETOPT_EXIT: return rc ? rc : -1;
        case OPT_ACTOR: o->actor = optarg; break;
        case OPT_RM: o->reward_model = optarg; break;
        case OPT_CM: o->cost_model = optarg; break;
        case OPT_REF: o->ref_model = optarg; break;
        case OPT_RCRIT: o->reward_critic = optarg; break;
        case OPT_CCRIT: o->cost_critic = optarg; break;
        case 'o': o->output = optarg; break;
        case OPT_RESUME: o->resume = optarg; break;
        case OPT_PROMPT_FIELD:
            if (!*optarg) return usage_error("--prompt-field needs a non-empty name");
            o->prompt_field = optarg;
            break;
        case OPT_SAVE_CRITICS: o->save_critics = true; break;
        case OPT_ALLOW_EXTRA: o->load_flags |= SRL_LOAD_ALLOW_EXTRA; break;
        case OPT_DRY_RUN: {
            long k = 0;
            if (optarg && parse_int(optarg, 1, 1 << 20, &k) < 0)
                return usage_error("invalid --dry-run '%s' (expected a rank count >= 1)",
                                   optarg);
            *dry_run = (int)k;
            break;
        }
        case 'p':
        case OPT_PTX: {
            const char **list = c == 'p' ? o->prompts : o->ptx;
            int *np = c == 'p' ? &o->n_prompts : &o->n_ptx;
            if (*np == SRL_PPO_MAX_FILES)
                return usage_error("at most %d files per option", SRL_PPO_MAX_FILES);
            list[(*np)++] = optarg;
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
        case 'h': usage(stdout); return -1;
        default:
            if (c >= OPT_NUM && c < OPT_NUM + N_NUMS)
                rc = opt_def_parse(&nums[c - OPT_NUM], o, optarg);
            else
                rc = train_opts_parse(&loop, c, optarg);
            if (rc != 0) return rc == 1 ? SRL_EXIT_USAGE : rc;
        }
    }
    loop_to_ppo(&loop, o);
    if (optind != argc) return usage_error("unexpected argument '%s'", argv[optind]);
    if (!o->actor) return usage_error("no actor (--actor)");
    if (!o->reward_model || !o->cost_model)
        return usage_error("give --reward-model and --cost-model");
    if (o->n_prompts == 0 && *dry_run < 0) return usage_error("no prompts (--prompts)");
    if (!o->output && *dry_run < 0) return usage_error("no output directory (-o)");
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

/* --dry-run: the memory plan per rank of the six models (lib/memplan.h), from their configs. */
static int dry_run_plan(const struct srl_ppo_train_opts *o, int ranks)
{
    struct srl_mem_plan p = {.ranks = ranks > 0 ? ranks : srl_dist_size(),
                             .zero_stage = o->zero_stage};
    if (srl_ppo_mem_plan(o, &p) < 0) return print_error("cannot read the models' configs");
    if (srl_dist_is_root()) {
        printf("PPO-Lagrangian: actor, reward and cost critics trained; reference, reward and "
               "cost models frozen; %d rollout rows of up to %d tokens per rank\n",
               (o->rollout_batch_size * o->num_return_sequences + p.ranks - 1) / p.ranks,
               o->max_prompt_length + o->max_new_tokens);
        srl_mem_plan_print(stdout, &p, "PPO-Lagrangian training");
    }
    return SRL_EXIT_OK;
}

static int ppo_main(int argc, char **argv)
{
    struct srl_ppo_train_opts o;
    struct tool_common common = TOOL_COMMON_INIT;
    const struct srl_backend *be;
    int rc, ret = SRL_EXIT_FAILURE, dry_run = -1;

    srl_ppo_train_opts_default(&o);
    if ((rc = parse_args(argc, argv, &o, &common, &dry_run)) != 0)
        return rc < 0 ? SRL_EXIT_OK : rc;
    if (dry_run >= 0) return dry_run_plan(&o, dry_run);
    /* lib/ppo_trainer.c loads every model on the CPU backend and lib/ppo_step.c reads their
     * scores in host memory: CUDA is refused, not silently replaced */
    if ((rc = tool_backend(&common, "the PPO trainer runs on the CPU backend only (it reads "
                           "the models' outputs in host memory)", &be)) != 0)
        return rc;
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

int main(int argc, char **argv)
{
    tool_init(argv); /* before MPI starts */
    return srl_dist_main(argc, argv, ppo_main);
}
