/* Kinds of place and of residence, shared by the population (host) and the rules (device). */
#ifndef CIV_PLACES_H
#define CIV_PLACES_H

enum civ_place_type { CIV_PLACE_SCHOOL = 0, CIV_PLACE_WORK = 1, CIV_PLACE_CARE_HOME = 2 };
enum civ_residence_kind { CIV_RES_HOUSEHOLD = 0, CIV_RES_CARE_HOME = 1 };

#endif
