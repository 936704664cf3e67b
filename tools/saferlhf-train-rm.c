/* saferlhf-train-rm.c -- train a reward model on helpfulness preferences (-log sigmoid(r_better
 * - r_worse) + regularization * mean(r^2)).  The tool's body is tools/train_score.c. */
#include "train_score.h"

int main(int argc, char **argv)
{
    return train_score_main(argc, argv, SRL_SCORE_REWARD);
}
