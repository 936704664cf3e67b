/* train_score.h -- saferlhf-train-rm and saferlhf-train-cm share their whole body: the same
 * options, data reading and training loop; only the loss, the labels read and the metrics
 * differ (enum srl_score_kind, lib/trainer_score.h). */
#ifndef SRL_TRAIN_SCORE_TOOL_H
#define SRL_TRAIN_SCORE_TOOL_H

#include "tool.h"
#include "trainer_score.h"

/* main() of the tool for this kind of score model. */
int train_score_main(int argc, char **argv, enum srl_score_kind kind);

#endif
