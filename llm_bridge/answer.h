/* Reading a model's answer. One extraction rule, applied to every answer
 * whatever the server and whatever precedes or follows the JSON:
 *   1. leading white space is skipped, and a leading reasoning block
 *      <think> ... </think> (reasoning models write one) is removed;
 *   2. the answer is the first complete JSON object in what remains: text
 *      before it (a sentence, a ```json fence) and after it (a closing fence,
 *      an explanation) is ignored;
 *   3. that object must hold every decision as a number in [0, 1].
 * An answer that needed step 1 or anything but white space around the object
 * counts as "extracted" (recorded per refresh). */
#ifndef CIV_ANSWER_H
#define CIV_ANSWER_H

#include "llm_bridge/decision_table.h"

typedef struct {
    float p[CIV_N_DECISION];
    int extracted;     /* the JSON object was not the whole answer */
    char *why;         /* malloc'd reason when the answer is rejected, else NULL */
} civ_answer;

/* cut_off: the server reported finish_reason "length" (the reason then says to raise max_tokens).
 * Returns 0 when the answer is valid. */
int civ_answer_read(const char *content, int cut_off, int max_tokens, civ_answer *out);

#endif
