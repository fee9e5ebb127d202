/* Loading the COVID-19 model configuration (models/covid/params.json) and
 * building the tables the rules use. */
#ifndef CIV_COVID_PARAMS_H
#define CIV_COVID_PARAMS_H

#include <cjson/cJSON.h>

#include "host/util/error.h"
#include "models/covid/covid_model.h"

/* Applies study-level overrides ({"name": value-or-object}) to the model
 * JSON's "parameters", then validates every parameter and fills m (except
 * the contact tables). model_file is used in messages. */
civ_status civ_covid_params_build(cJSON *model, const cJSON *overrides, const char *model_file,
                                  const char *study_file, civ_covid_params *m, civ_error *err);

/* Contact tables from the Prem et al. (2021) CSV: school and work contacts
 * per day by age band (row sums), community = "others" setting. */
civ_status civ_covid_load_prem(const char *csv_path, const char *region_type, civ_covid_params *m,
                               civ_error *err);
/* Homogeneous community mixing: every agent has `contacts` per day with a
 * random member of the mixing unit (used for analytic checks). */
void civ_covid_uniform_community(civ_covid_params *m, double contacts);

/* Regularised lower incomplete gamma P(a, x) and discretised CDFs (exposed for tests). */
double civ_gamma_p(double a, double x);
double civ_gamma_cdf_mean_sd(double x, double mean, double sd);

#endif
