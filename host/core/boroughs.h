/* New York City's five boroughs: the geography every per-borough array is indexed by (population,
 * the model's tallies, outputs). Borough codes as DOHMH uses them. */
#ifndef CIV_BOROUGHS_H
#define CIV_BOROUGHS_H

#define CIV_NBOROUGH 5
enum { CIV_BX, CIV_BK, CIV_MN, CIV_QN, CIV_SI };

#endif
