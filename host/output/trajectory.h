/* Trajectory files (HDF5):
 *   /                       attrs: schema, civitas_version, git, backend, seed, study,
 *                           start_date, steps_planned, steps_completed, status, config_json, ...
 *   /timeseries/<variable>  int32 [step][borough][age_band], dimension scales date, borough, age_band
 *   /timeseries/date        int32 days since start_date (CF "units"), so xarray decodes dates
 *   /llm/tables             float32 [refresh][archetype][decision], with prompts, answers, fallbacks and
 *                           latency per refresh (heuristic runs write the same layout)
 *   /observed/...            DOHMH daily cases/hospitalised/deaths [step][borough], if the study names them
 *   /agents/{stage,flags,labour} uint8 [snapshot][agent] on the requested snapshot steps
 * The file is written as "<path>.partial" (created and locked by this run alone: a second run writing the
 * same output fails at once) and renamed into place when it is closed, so a file under the output's name
 * is always whole. It is flushed after every step and steps_completed is updated only after a step's rows
 * are on disk, so a killed run leaves "<path>.partial" holding the finished days. */
#ifndef CIV_TRAJECTORY_H
#define CIV_TRAJECTORY_H

#include <stdbool.h>

#include "host/engine/engine.h"
#include "host/study/observed.h"

typedef struct civ_traj civ_traj;

civ_status civ_traj_create(civ_traj **out, const char *path, const civ_engine *e, const char *backend,
                           const char *population_source, const civ_observed *obs, civ_error *err);
/* Appends the engine's last step (series, table if refreshed, snapshot if due). */
civ_status civ_traj_append(civ_traj *t, const civ_engine *e, civ_error *err);
/* Writes the final status ("complete", "interrupted", "failed: ...") and closes; with keep, renames the
 * file into place, else (and whenever a write failed) removes it. err may be NULL. */
civ_status civ_traj_close(civ_traj *t, const char *status, bool keep, civ_error *err);

#define CIV_TRAJ_SCHEMA "civitas-trajectory/1"

#endif
