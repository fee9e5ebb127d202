/* Census race/ethnicity groups, as the neighbourhood tables give them (data/nyc_nta_ethnicity.csv).
 * The model uses them only as a proxy for exposure outside the home (on-site and essential work,
 * crowding, transit), which in New York's spring 2020 differed by group: see
 * models/covid/params.json, outside_home_exposure. */
#ifndef CIV_ETHNICITY_H
#define CIV_ETHNICITY_H

#define CIV_N_ETHNICITY 6
enum { CIV_ETH_ASIAN, CIV_ETH_BLACK, CIV_ETH_HISPANIC, CIV_ETH_NATIVE, CIV_ETH_OTHER, CIV_ETH_WHITE };
/* Their names, in that order, as the data file and the model parameters spell them (initialiser list). */
#define CIV_ETHNICITY_NAMES "asian", "black", "hispanic", "native", "other", "white"

#endif
