/* The counterfactual report's validation of its base study against data that are not daily counts by
 * borough: the share ever infected against the serosurveys named in the base's calibration section, and
 * reported cases, hospital admissions and deaths per 100k by age group against DOHMH's weekly rates by
 * age, each as the base's median and 5-95% band over its runs with the ratio of the median to the
 * observed figure (the bias, not only whether the band covers it). */
#ifndef CIV_ENSEMBLE_VALIDATION_H
#define CIV_ENSEMBLE_VALIDATION_H

#include "host/output/ensemble_file.h"
#include "host/output/report_doc.h"

/* Writes both sections for days [t0, t1]. The weekly rates by age are read from
 * data_dir/nyc_covid_weekly_rates_by_age.csv; without that file (or a serosurvey in the base study) the
 * section says so. A malformed file is an error naming it. */
civ_status civ_ens_validation(civ_doc *d, const civ_ens *e, int t0, int t1, const char *data_dir, civ_error *err);

#endif
