/* saferlhf-train-cm.c -- train a cost model on safety preferences (-log sigmoid(c_unsafer -
 * c_safer) plus the sign terms -log sigmoid(s * c), s = +1 unsafe, -1 safe).  The tool's body
 * is tools/train_score.c. */
#include "train_score.h"

int main(int argc, char **argv)
{
    return train_score_main(argc, argv, SRL_SCORE_COST);
}
