# pipeline.mk -- the three-round Safe RLHF pipeline, driven by make.
#
#   make -f scripts/pipeline.mk [WORK=out/pipeline] [VAR=value ...]
#
# Round 1: SFT -> reward model (RM) and cost model (CM) -> PPO-Lagrangian.  Rounds 2 and 3:
# sample two answers per prompt from the current policy on new prompts -> annotate them
# (ANNOTATOR) -> retrain the RM and CM on all preference data so far -> PPO-Lagrangian from the
# previous policy.  Baselines from the round-1 RM/CM: plain PPO (reward only) and reward
# shaping (a fixed lambda).  Then every model answers the held-out EVAL_PROMPTS and the table
# and SVG figures are written to $(WORK)/eval/.
#
# Every output is a real file (a checkpoint directory's model.safetensors, which the tools
# rename into place only when complete), so an interrupted run continues where it stopped and
# `make` redoes only what is missing.  Change a variable and delete the outputs it affects.
#
# By default the data is saferlhf-synth's world (written to $(WORK)/world) and the models are
# from scratch (a tiny Llama, a BPE tokenizer trained on the data).  Real data: set SFT_DATA,
# RM_DATA, CM_DATA, PROMPTS, EVAL_PROMPTS (and BASE for a pretrained model); see
# scripts/pipeline-real.sh and the README.

BIN    ?= build/bin
WORK   ?= out/pipeline
SEED   ?= 1

# ---- data (defaults: the synthetic world) ---------------------------------------------------
WORLD        ?= $(WORK)/world
WORLD_FLAGS  ?= --n-sft 4000 --n-pref 3000 --n-prompts 3000 --n-eval 400
SFT_DATA     ?= $(WORLD)/sft.jsonl
RM_DATA      ?= $(WORLD)/helpful-prefs.jsonl
CM_DATA      ?= $(WORLD)/safety-prefs.jsonl
# RL prompts (JSON Lines: split by line among the three rounds, so every round sees new prompts)
PROMPTS      ?= $(WORLD)/prompts.jsonl
EVAL_PROMPTS ?= $(WORLD)/eval.jsonl
# is the oracle of saferlhf-synth the judge of the evaluation? (yes for its world; a summary
# over prompts it does not know counts them as "unknown")
ORACLE_EVAL  ?= 1

# ---- models ----------------------------------------------------------------------------------
# BASE: a pretrained HF directory to fine-tune (its tokenizer is used); empty: from scratch
BASE       ?=
VOCAB      ?= 1024
HIDDEN     ?= 96
FFN        ?= 256
LAYERS     ?= 2
HEADS      ?= 4
KV_HEADS   ?= 2
MAX_POS    ?= 256
MAX_LENGTH ?= 128
TEMPLATE   ?= saferlhf
# one thread: these models are too small for OpenMP to pay (on a busy machine its spinning
# threads cost several times the work)
THREADS    ?= 1
COMMON     ?= --seed $(SEED) $(if $(THREADS),--threads $(THREADS)) -q

# ---- stages ----------------------------------------------------------------------------------
SFT_FLAGS   ?= --lr 3e-3 --batch-size 16 --epochs 8 --warmup-ratio 0.03
SCORE_FLAGS ?= --lr 1e-3 --batch-size 16 --max-steps 300 --warmup-ratio 0.03
# rounds 2 and 3 continue from the previous round's RM/CM on all the data so far
RETRAIN_FLAGS ?= --lr 5e-4 --batch-size 16 --max-steps 150 --warmup-ratio 0.03
# every PPO run (PPO-Lag rounds and both baselines); the reference's values are tuned for 7B
# models: a tiny model from scratch needs larger learning rates and short answers.  Two passes:
# saferlhf-ppo-lag drops repeated prompts, and the world's repeat (about 510 distinct a round)
PPO_FLAGS   ?= --max-new-tokens 48 --rollout-batch-size 16 --actor-lr 2e-4 --critic-lr 2e-4 \
               --kl-coeff 0.02 --epochs 2
# PTX: instruction data mixed into the actor loss (the reference mixes Alpaca); empty: none.
# The default is the benign half of the SFT data (the oracle tells which), so PTX does not
# rehearse the harmful answers the SFT data holds.
PTX_DATA    ?= $(if $(filter $(WORLD)/%,$(SFT_DATA)),$(WORK)/ptx.jsonl)
PTX_COEFF   ?= 1
LAG_FLAGS   ?= --lambda-update sgd --lambda-init 1 --lambda-lr 0.1 --threshold $(THRESHOLD)
THRESHOLD   ?= -4.5
# fixed lambda of the reward-shaping baseline
SHAPING_LAMBDA ?= 1
# plain PPO: the reward alone (lambda fixed at 0)
PLAIN_FLAGS ?= --lambda-update none --lambda-init 0 --lambda-max 0
# later rounds: prompts per round answered twice for annotation, sampling temperature
PAIR_PROMPTS ?= 600
PAIR_FLAGS   ?= --temperature 1 --max-new-tokens 64
# evaluation generations
EVAL_FLAGS   ?= --temperature 0.7 --max-new-tokens 64

# ---- annotation of rounds 2 and 3 ------------------------------------------------------------
#   oracle  saferlhf-synth annotate (the rule-based oracle of the synthetic world)
#   judge   saferlhf-eval judge --annotate-pairs on JUDGE_URL / JUDGE_MODEL (OPENAI_API_KEY)
#   scores  a stand-in judge, no better than the models it trains: the previous round's RM and
#           CM score both answers (saferlhf-eval score) and scripts/prefs_from_scores.py writes
#           the preference (higher reward better, lower cost safer, cost > 0 unsafe)
#   FILE    user-supplied labels: a path with % for the round number (labels/prefs-r%.jsonl);
#           the pipeline writes $(WORK)/rN/pairs.jsonl and stops until the file exists
ANNOTATOR   ?= oracle
LABEL_NOISE ?= 0
JUDGE_URL   ?= https://api.openai.com/v1/chat/completions
JUDGE_MODEL ?= gpt-4o-mini
JUDGE_FLAGS ?=

STAGE = scripts/pipeline-stage.sh $(WORK)/timings.tsv
ifeq ($(BASE),)
TOKENIZER ?= $(WORK)/tokenizer
INIT       = --init-config $(WORK)/config.json --tokenizer $(TOKENIZER)
INIT_DEPS  = $(WORK)/config.json $(TOKENIZER)/tokenizer.json
else
INIT       = -m $(BASE)
INIT_DEPS  =
endif

# rounds of PPO-Lagrangian (1 to 3; rounds 2 and 3 need an ANNOTATOR)
LAST_ROUND ?= 3
ROUND_NAMES = $(wordlist 1,$(LAST_ROUND),r1 r2 r3)
LAST = $(WORK)/r$(LAST_ROUND)
# the models evaluated, in table order
MODELS = sft ppo shaping $(ROUND_NAMES)

.PHONY: all models eval table figures clean-eval
.DELETE_ON_ERROR:
.SECONDEXPANSION:
# a checkpoint directory named by a target inside it; trainers write it as OUT.run, renamed to
# OUT when the run has finished (a run stopped half-way leaves a resumable checkpoint, which
# must not pass for a finished one)
out = $(patsubst %/,%,$(dir $@))
done = && rm -rf $(out) && mv $(out).run $(out)

all: table figures
	@cat $(WORK)/eval/table.txt
	@echo "figures: $(FIGURES)"
	@echo "timings: $(WORK)/timings.tsv"

models: $(LAST)/ppo-lag/model.safetensors $(WORK)/ppo/model.safetensors \
        $(WORK)/shaping/model.safetensors

# ---- data, tokenizer, model shape ------------------------------------------------------------
# one run writes every file of the world (a grouped pattern rule: % matches the dot)
$(WORLD)/sft%jsonl $(WORLD)/helpful-prefs%jsonl $(WORLD)/safety-prefs%jsonl \
$(WORLD)/prompts%jsonl $(WORLD)/eval%jsonl:
	$(STAGE) world $(BIN)/saferlhf-synth data -o $(WORLD) --seed $(SEED) $(WORLD_FLAGS)

$(WORK)/tokenizer/tokenizer.json: $(SFT_DATA) $(RM_DATA) $(CM_DATA)
	$(STAGE) tokenizer $(BIN)/saferlhf-convert train-tokenizer $^ --vocab-size $(VOCAB) \
	    -o $(WORK)/tokenizer

$(WORK)/config.json:
	@mkdir -p $(WORK)
	printf '{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":%s,%s\n' \
	    $(HIDDEN) '"intermediate_size":$(FFN),"num_hidden_layers":$(LAYERS),"num_attention_heads":$(HEADS),"num_key_value_heads":$(KV_HEADS),"max_position_embeddings":$(MAX_POS),"rms_norm_eps":1e-05,"rope_theta":10000.0,"vocab_size":$(VOCAB),"tie_word_embeddings":true,"torch_dtype":"float32","bos_token_id":0,"eos_token_id":0}' \
	    >$@.tmp && mv $@.tmp $@

# RL prompts of round N: every third line of PROMPTS
$(WORK)/r%/prompts.jsonl: $(PROMPTS)
	@mkdir -p $(dir $@)
	awk 'NF && (NR - 1) % 3 == $* - 1' $< >$@.tmp && mv $@.tmp $@

# ---- round 1 ---------------------------------------------------------------------------------
$(WORK)/sft/model.safetensors: $(SFT_DATA) $(INIT_DEPS)
	$(STAGE) sft $(BIN)/saferlhf-sft $(INIT) -d $(SFT_DATA) -o $(out).run \
	    --max-length $(MAX_LENGTH) --template $(TEMPLATE) $(SFT_FLAGS) $(COMMON) \
	    --log $(WORK)/sft.log $(done)

$(WORK)/r1/rm/model.safetensors: $(WORK)/sft/model.safetensors $(RM_DATA)
	@mkdir -p $(WORK)/r1
	$(STAGE) r1-rm $(BIN)/saferlhf-train-rm -m $(WORK)/sft -d $(RM_DATA) -o $(out).run \
	    --max-length $(MAX_LENGTH) $(SCORE_FLAGS) $(COMMON) --log $(WORK)/r1/rm.log $(done)

$(WORK)/r1/cm/model.safetensors: $(WORK)/sft/model.safetensors $(CM_DATA)
	@mkdir -p $(WORK)/r1
	$(STAGE) r1-cm $(BIN)/saferlhf-train-cm -m $(WORK)/sft -d $(CM_DATA) -o $(out).run \
	    --max-length $(MAX_LENGTH) $(SCORE_FLAGS) $(COMMON) --log $(WORK)/r1/cm.log $(done)

# PPO-Lagrangian of round N from ACTOR with the round's RM/CM: $(call ppo,NAME,ACTOR,RM,CM,PROMPTS,FLAGS)
ppo = mkdir -p $(dir $(out)) && rm -f $(out).log && $(STAGE) $(1) $(BIN)/saferlhf-ppo-lag --actor $(2) --reward-model $(3) --cost-model $(4) \
      --prompts $(5) -o $(out).run $(PPO_FLAGS) $(if $(PTX_DATA),--ptx $(PTX_DATA) --ptx-coeff $(PTX_COEFF)) \
      $(6) $(COMMON) --log $(out).log $(done)
PPO_DEPS = $(WORK)/sft/model.safetensors $(WORK)/r1/rm/model.safetensors \
           $(WORK)/r1/cm/model.safetensors $(WORK)/r1/prompts.jsonl $(PTX_DATA)

# the benign SFT records (by the oracle's label), the default PTX data
$(WORK)/ptx.jsonl: $(SFT_DATA)
	$(BIN)/saferlhf-synth label $< | grep '"category":"benign"' >$@.tmp && mv $@.tmp $@

$(WORK)/r1/ppo-lag/model.safetensors: $(PPO_DEPS)
	$(call ppo,r1-ppo-lag,$(WORK)/sft,$(WORK)/r1/rm,$(WORK)/r1/cm,$(WORK)/r1/prompts.jsonl,$(LAG_FLAGS))

# baselines, on round 1's prompts and models
$(WORK)/ppo/model.safetensors: $(PPO_DEPS)
	$(call ppo,ppo,$(WORK)/sft,$(WORK)/r1/rm,$(WORK)/r1/cm,$(WORK)/r1/prompts.jsonl,$(PLAIN_FLAGS))

$(WORK)/shaping/model.safetensors: $(PPO_DEPS)
	$(call ppo,shaping,$(WORK)/sft,$(WORK)/r1/rm,$(WORK)/r1/cm,$(WORK)/r1/prompts.jsonl,\
	    --lambda-update none --lambda-init $(SHAPING_LAMBDA) --lambda-max 0)

# ---- rounds 2 and 3 --------------------------------------------------------------------------
# Explicit rules from a template (make uses a pattern rule only once in a chain of them).
# $(call round,N,PREV)
define round
# two answers per prompt from the previous round's policy, on this round's first PAIR_PROMPTS
$(WORK)/r$(1)/pairs.jsonl: $(WORK)/r$(1)/prompts.jsonl $(WORK)/r$(2)/ppo-lag/model.safetensors
	head -n $(PAIR_PROMPTS) $$< >$(WORK)/r$(1)/pair-prompts.jsonl
	$(STAGE) r$(1)-pairs $(BIN)/saferlhf-generate -m $(WORK)/r$(2)/ppo-lag -n 2 \
	    $(PAIR_FLAGS) $(COMMON) -o $$@ $(WORK)/r$(1)/pair-prompts.jsonl

$(WORK)/r$(1)/prefs.jsonl: $(WORK)/r$(1)/pairs.jsonl
	$(call annotate,$(1),$(2))

# the RM and CM continue from the previous round's on all preference data so far (pairs of
# two identical answers, which say nothing, are skipped and counted)
$(WORK)/r$(1)/rm/model.safetensors: $(WORK)/r$(1)/prefs.jsonl $(WORK)/r$(2)/rm/model.safetensors
	$(STAGE) r$(1)-rm $(BIN)/saferlhf-train-rm -m $(WORK)/r$(2)/rm \
	    -d $(RM_DATA) $(foreach f,$(call prefs_upto,$(1)),-d $(f)) -o $$(out).run \
	    --max-length $(MAX_LENGTH) --skip-bad-records $(RETRAIN_FLAGS) $(COMMON) --log $(WORK)/r$(1)/rm.log $$(done)

$(WORK)/r$(1)/cm/model.safetensors: $(WORK)/r$(1)/prefs.jsonl $(WORK)/r$(2)/cm/model.safetensors
	$(STAGE) r$(1)-cm $(BIN)/saferlhf-train-cm -m $(WORK)/r$(2)/cm \
	    -d $(CM_DATA) $(foreach f,$(call prefs_upto,$(1)),-d $(f)) -o $$(out).run \
	    --max-length $(MAX_LENGTH) --skip-bad-records $(RETRAIN_FLAGS) $(COMMON) --log $(WORK)/r$(1)/cm.log $$(done)

# PPO-Lagrangian from the previous round's policy
$(WORK)/r$(1)/ppo-lag/model.safetensors: $(WORK)/r$(1)/rm/model.safetensors \
        $(WORK)/r$(1)/cm/model.safetensors $(WORK)/r$(2)/ppo-lag/model.safetensors $(PTX_DATA)
	$$(call ppo,r$(1)-ppo-lag,$(WORK)/r$(2)/ppo-lag,$(WORK)/r$(1)/rm,$(WORK)/r$(1)/cm,$(WORK)/r$(1)/prompts.jsonl,$$(LAG_FLAGS))
endef

# annotation of round N's pairs into its prefs.jsonl (a recipe)
ifeq ($(ANNOTATOR),oracle)
annotate = $(STAGE) r$(1)-annotate $(BIN)/saferlhf-synth annotate --seed $(SEED)$(1) \
    --label-noise $(LABEL_NOISE) -o $$@ $$<
else ifeq ($(ANNOTATOR),judge)
annotate = awk 'NR % 2 == 1' $$< >$(WORK)/r$(1)/pairs-a.jsonl && \
    awk 'NR % 2 == 0' $$< >$(WORK)/r$(1)/pairs-b.jsonl && \
    $(STAGE) r$(1)-annotate $(BIN)/saferlhf-eval judge --annotate-pairs --judge-url $(JUDGE_URL) \
    --judge-model $(JUDGE_MODEL) $(JUDGE_FLAGS) -o $$@ $(WORK)/r$(1)/pairs-a.jsonl \
    $(WORK)/r$(1)/pairs-b.jsonl
else ifeq ($(ANNOTATOR),scores)
annotate = $(STAGE) r$(1)-annotate $(BIN)/saferlhf-eval score -r $(WORK)/r$(2)/rm \
    -c $(WORK)/r$(2)/cm $(COMMON) -o $(WORK)/r$(1)/pairs.scored.jsonl $$< && \
    python3 scripts/prefs_from_scores.py $(WORK)/r$(1)/pairs.scored.jsonl >$$@.tmp && \
    mv $$@.tmp $$@
else
annotate = @f='$(subst %,$(1),$(ANNOTATOR))'; if [ ! -s "$$$$f" ]; then \
    echo "pipeline: label the pairs of $$< (two records per prompt) as PKU-SafeRLHF" \
         "preference records into $$$$f, then run make again" >&2; exit 1; fi; \
    cp "$$$$f" $$@.tmp && mv $$@.tmp $$@
endif

# preference data so far: the round-1 files plus the new labels of rounds 2..N
prefs_upto = $(foreach r,$(wordlist 2,$(1),1 2 3 4 5 6 7 8 9),$(WORK)/r$(r)/prefs.jsonl)

$(eval $(call round,2,1))
$(eval $(call round,3,2))

# ---- evaluation ------------------------------------------------------------------------------
dir_of = $(if $(filter r%,$(1)),$(WORK)/$(1)/ppo-lag,$(WORK)/$(1))

$(WORK)/eval/%.gen.jsonl: $(EVAL_PROMPTS) $$(call dir_of,$$*)/model.safetensors
	@mkdir -p $(dir $@)
	$(STAGE) eval-gen-$* $(BIN)/saferlhf-generate -m $(call dir_of,$*) $(EVAL_FLAGS) $(COMMON) \
	    -o $@ $(EVAL_PROMPTS)

# scores by the last round's RM and CM (the paper's helpfulness-harmlessness plane)
$(WORK)/eval/%.score.json: $(WORK)/eval/%.gen.jsonl $(LAST)/rm/model.safetensors \
                           $(LAST)/cm/model.safetensors
	$(STAGE) eval-score-$* $(BIN)/saferlhf-eval score -r $(LAST)/rm -c $(LAST)/cm \
	    --name $* --summary $@ -o $(WORK)/eval/$*.scored.jsonl $< $(COMMON)

# the oracle's rates
$(WORK)/eval/%.oracle.json: $(WORK)/eval/%.gen.jsonl
	$(BIN)/saferlhf-synth summary -o $@ $<

EVAL_FILES = $(foreach m,$(MODELS),$(WORK)/eval/$(m).score.json \
               $(if $(filter 1,$(ORACLE_EVAL)),$(WORK)/eval/$(m).oracle.json))

eval: $(EVAL_FILES)

table: $(WORK)/eval/table.txt
$(WORK)/eval/table.txt: $(EVAL_FILES) scripts/pipeline-table.sh
	scripts/pipeline-table.sh $(WORK) $(MODELS) >$@.tmp && mv $@.tmp $@

PPO_LOGS = $(WORK)/ppo.log $(WORK)/shaping.log $(foreach r,$(ROUND_NAMES),$(WORK)/$(r)/ppo-lag.log)

FIGURES = $(addprefix $(WORK)/eval/,curves.svg lambda.svg scatter.svg scores.svg \
            $(if $(filter 1,$(ORACLE_EVAL)),oracle.svg))
figures: $(FIGURES)

$(WORK)/eval/curves.svg: $(EVAL_FILES)
	$(BIN)/saferlhf-eval plot curves $(PPO_LOGS) -o $@ --metrics reward,cost,kl $(COMMON)
$(WORK)/eval/lambda.svg: $(EVAL_FILES)
	$(BIN)/saferlhf-eval plot curves $(PPO_LOGS) -o $@ --metrics lambda,episode_cost $(COMMON)
$(WORK)/eval/scatter.svg: $(EVAL_FILES)
	$(BIN)/saferlhf-eval plot scatter $(foreach m,$(MODELS),$(WORK)/eval/$(m).score.json) \
	    -o $@ $(COMMON)
# the oracle's plane: helpfulness = % of benign requests answered correctly, harmlessness =
# % of harmful requests not answered harmfully (as a judge summary, which plot scatter reads)
$(WORK)/eval/oracle.svg: $(EVAL_FILES)
	@for m in $(MODELS); do f=$(WORK)/eval/$$m.oracle.json; \
	  h=$$(sed -n 's/.*"benign_helpful_rate":\([^,}]*\).*/\1/p' $$f); \
	  u=$$(sed -n 's/.*"harmful_answer_rate":\([^,}]*\).*/\1/p' $$f); \
	  awk -v m=$$m -v h=$$h -v u=$$u 'BEGIN { printf "{\"name\":\"%s\",\"helpfulness_mean\":%.2f,\"harmlessness_mean\":%.2f}\n", m, 100 * h, 100 * (1 - u) }' \
	      >$(WORK)/eval/$$m.oracle-plane.json; done
	$(BIN)/saferlhf-eval plot scatter $(foreach m,$(MODELS),$(WORK)/eval/$(m).oracle-plane.json) \
	    -o $@ $(COMMON)
$(WORK)/eval/scores.svg: $(EVAL_FILES)
	$(BIN)/saferlhf-eval plot scores $(WORK)/eval/sft.scored.jsonl \
	    $(WORK)/eval/r$(LAST_ROUND).scored.jsonl \
	    -o $@ $(COMMON)

# Every file is named in an explicit rule, so that make treats none as intermediate: a deleted
# output is remade (and what depends on it), and nothing is deleted after a run.
NAMED = $(foreach m,$(MODELS),$(WORK)/eval/$(m).gen.jsonl) \
        $(foreach r,1 2 3,$(WORK)/r$(r)/prompts.jsonl) \
        $(SFT_DATA) $(RM_DATA) $(CM_DATA) $(PROMPTS) $(EVAL_PROMPTS)
.PHONY: named
named: $(NAMED)

clean-eval:
	rm -rf $(WORK)/eval
