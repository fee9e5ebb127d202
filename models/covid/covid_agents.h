/* The agents, one list. Every per-agent field the rules read or write is one line of
 * CIV_AGENT_FIELDS; the struct of arrays below, the engine's allocation, initial values and freeing,
 * the CUDA backend's staging and download, snapshots and the bytes-per-agent figure are all generated
 * from it. Adding a field is one line here plus the rule code that uses it.
 *
 *   X(type, name, kind, initial value, snapshot, description)
 *
 * kind     POP      an attribute of the synthetic population, borrowed read-only (population.h)
 *          STATIC   set by the engine at start, read-only in the passes
 *          STATE    changed by the passes: staged to the device, copied back for snapshots and checks
 *          SCRATCH  a pass's result for the day (not staged, not copied back)
 * initial  for engine-owned fields: an expression of `pop` (the civ_population) and agent `i`
 * snapshot 1: written to the run file's /agents group on snapshot days, in this order */
#ifndef CIV_COVID_AGENTS_H
#define CIV_COVID_AGENTS_H

#include <stdint.h>

#define CIV_AGENT_FIELDS(X)                                                                                   \
    X(uint8_t, age, POP, 0, 0, "age in years")                                                                \
    X(uint8_t, borough, POP, 0, 0, "borough of residence")                                                    \
    X(uint16_t, tract, POP, 0, 0, "census tract of residence (index)")                                        \
    X(uint32_t, household, POP, 0, 0, "household (index)")                                                    \
    X(int32_t, place, POP, 0, 0, "school, workplace or care home (index), -1 if none")                        \
    X(uint8_t, residence, POP, 0, 0, "household or care home (civ_residence_kind)")                           \
    X(uint8_t, ethnicity, POP, 0, 0, "census race/ethnicity group of the household (CIV_ETH_*)")              \
    X(uint16_t, archetype, STATIC, 0, 0, "behavioural archetype: row of the decision table")                  \
    X(uint16_t, essential_rank, STATIC, 0, 0, "fixed rank (of 65,536) against the essential-worker share")     \
    X(uint8_t, household_size, STATIC, pop->household_size[pop->household[i]] < 255 ? pop->household_size[pop->household[i]] : 255, \
      0, "people in the agent's household (255 for 255 or more)")                                            \
    X(uint8_t, stage, STATE, CIV_S, 1, "disease stage (civ_stage)")                                           \
    X(uint8_t, course, STATE, 0, 0, "course drawn at infection (CIV_COURSE_* bits)")                         \
    X(uint8_t, flags, STATE, 0, 1, "isolation and testing (CIV_FLAG_* bits)")                                 \
    X(uint8_t, labour, STATE, pop->labour[i], 1, "labour status (civ_labour); starts as the population's")    \
    X(int16_t, infected_day, STATE, -32000, 0, "day of infection")                                            \
    X(int16_t, next_day, STATE, 0x7FFF, 0, "day of the next stage transition")                               \
    X(int16_t, test_day, STATE, 0, 0, "day a pending test result arrives")                                   \
    X(int16_t, iso_until, STATE, -32000, 0, "isolating until this day after a positive test")                \
    X(uint8_t, today, SCRATCH, 0, 0, "the attendance pass's finding for the day (CIV_TODAY_* bits)")

/* Per kind: whether the rules may write the field, and who provides it. */
#define CIV_AGENT_CONST_POP const
#define CIV_AGENT_CONST_STATIC const
#define CIV_AGENT_CONST_STATE
#define CIV_AGENT_CONST_SCRATCH
#define CIV_AGENT_OWNED_POP 0        /* 1: allocated and initialised by the engine */
#define CIV_AGENT_OWNED_STATIC 1
#define CIV_AGENT_OWNED_STATE 1
#define CIV_AGENT_OWNED_SCRATCH 1
#define CIV_AGENT_STAGED_POP 1       /* 1: copied to a device at start */
#define CIV_AGENT_STAGED_STATIC 1
#define CIV_AGENT_STAGED_STATE 1
#define CIV_AGENT_STAGED_SCRATCH 0
#define CIV_AGENT_DYNAMIC_POP 0      /* 1: changed by the passes (copied back from a device) */
#define CIV_AGENT_DYNAMIC_STATIC 0
#define CIV_AGENT_DYNAMIC_STATE 1
#define CIV_AGENT_DYNAMIC_SCRATCH 0

/* The struct of arrays, plus the two per-place tables the rules read. */
typedef struct {
    uint32_t n;
#define CIV_AGENT_MEMBER(type, name, kind, init, snap, doc) CIV_AGENT_CONST_##kind type *name;
    CIV_AGENT_FIELDS(CIV_AGENT_MEMBER)
#undef CIV_AGENT_MEMBER
    const uint8_t *place_type;        /* per place: civ_place_type */
    const uint32_t *place_size;       /* per place */
} civ_agents;

/* Bytes of per-agent state, all fields. */
#define CIV_AGENT_SIZE(type, name, kind, init, snap, doc) + sizeof(type)
#define CIV_AGENT_BYTES (0 CIV_AGENT_FIELDS(CIV_AGENT_SIZE))

#endif
