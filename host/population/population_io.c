/* Population files: HDF5 with one dataset per agent attribute. Written to a
 * temporary name and renamed, so an interrupted save never leaves a file that
 * looks complete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/util/file.h"
#include "host/util/h5_util.h"
#include "host/util/interrupt.h"
#include "host/population/population.h"

#define POP_SCHEMA "civitas-population/3"   /* 2: care homes (agents/residence, places/type 2); 3: agents/ethnicity */

/* Ctrl-C between datasets: a full city's dataset takes a fraction of a second */
static civ_status interrupted(const char *path, civ_error *err)
{
    return civ_interrupted ? civ_fail(err, CIV_ERR_INTERRUPTED, "%s: interrupted; nothing was written", path) : CIV_OK;
}

civ_status civ_population_save(const civ_population *pop, const char *path, civ_error *err)
{
    civ_h5_quiet();
    civ_output out;
    civ_status st = civ_output_begin(&out, path, err);
    if (st) return st;
    civ_h5_reason_clear();
    hid_t f = H5Fcreate(out.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        st = civ_fail(err, CIV_ERR_IO, "%s: cannot create %s: %s", path, out.tmp, civ_h5_reason());
        civ_output_abandon(&out);
        return st;
    }
    uint64_t n = pop->n_agents;
    hid_t geoid_t = H5Tcopy(H5T_C_S1);
    H5Tset_size(geoid_t, 12);
    if ((st = interrupted(path, err)) ||
        (st = civ_h5_write_1d(f, "agents/borough", H5T_NATIVE_UINT8, n, pop->borough, path, err)) ||
        (st = civ_h5_write_1d(f, "agents/sex", H5T_NATIVE_UINT8, n, pop->sex, path, err)) ||
        (st = civ_h5_write_1d(f, "agents/age", H5T_NATIVE_UINT8, n, pop->age, path, err)) ||
        (st = civ_h5_write_1d(f, "agents/labour", H5T_NATIVE_UINT8, n, pop->labour, path, err)) ||
        (st = civ_h5_write_1d(f, "agents/residence", H5T_NATIVE_UINT8, n, pop->residence, path, err)) ||
        (st = civ_h5_write_1d(f, "agents/ethnicity", H5T_NATIVE_UINT8, n, pop->ethnicity, path, err)) ||
        (st = interrupted(path, err)) ||
        (st = civ_h5_write_1d(f, "agents/tract", H5T_NATIVE_UINT16, n, pop->tract, path, err)) ||
        (st = civ_h5_write_1d(f, "agents/household", H5T_NATIVE_UINT32, n, pop->household, path, err)) ||
        (st = interrupted(path, err)) ||
        (st = civ_h5_write_1d(f, "agents/place", H5T_NATIVE_INT32, n, pop->place, path, err)) ||
        (st = civ_h5_write_1d(f, "tracts/geoid", geoid_t, pop->n_tracts, pop->tract_geoid, path, err)) ||
        (st = civ_h5_write_1d(f, "tracts/borough", H5T_NATIVE_UINT8, pop->n_tracts, pop->tract_borough, path, err)) ||
        (st = civ_h5_write_1d(f, "places/type", H5T_NATIVE_UINT8, pop->n_places, pop->place_type, path, err)) ||
        (st = civ_h5_write_1d(f, "places/borough", H5T_NATIVE_UINT8, pop->n_places, pop->place_borough, path, err)))
        goto out;
    if (civ_h5_attr_string(f, "schema", POP_SCHEMA) || civ_h5_attr_u64(f, "n_agents", n) ||
        civ_h5_attr_u64(f, "n_households", pop->n_households) || civ_h5_attr_u64(f, "n_places", pop->n_places) ||
        civ_h5_attr_u64(f, "seed", pop->seed) || civ_h5_attr_f64(f, "scale", pop->scale) ||
        civ_h5_attr_string(f, "employment_reference", pop->employment_reference) ||
        civ_h5_attr_string(f, "boroughs", "BX,BK,MN,QN,SI") ||
        civ_h5_attr_string(f, "codes", "sex: 0 female, 1 male; labour: 0 not in labour force, 1 employed, "
                           "2 unemployed; residence: 0 household, 1 care home; ethnicity: 0 asian, 1 black, 2 hispanic, 3 native, 4 other, 5 white; place: school, workplace or care home index, -1 none; "
                           "places/type: 0 school, 1 workplace, 2 care home")) {
        st = civ_fail(err, CIV_ERR_IO, "%s: cannot write attributes: %s", path, civ_h5_reason());
        goto out;
    }
    if (civ_interrupted) st = civ_fail(err, CIV_ERR_INTERRUPTED, "%s: interrupted; nothing was written", path);
out:
    H5Tclose(geoid_t);
    if (H5Fclose(f) < 0 && !st) st = civ_fail(err, CIV_ERR_IO, "%s: cannot write: %s", path, civ_h5_reason());
    if (st) {
        civ_output_abandon(&out);
        return st;
    }
    return civ_output_commit(&out, err);
}

static civ_status check_range(const char *file, const char *name, uint64_t n, const void *v,
                              int kind, int64_t lo, int64_t hi, civ_error *err)
{
    for (uint64_t i = 0; i < n; i++) {
        int64_t x = kind == 1 ? ((const uint8_t *)v)[i] : kind == 2 ? ((const uint16_t *)v)[i]
                  : kind == 4 ? (int64_t)((const uint32_t *)v)[i] : ((const int32_t *)v)[i];
        if (x < lo || x > hi)
            return civ_fail(err, CIV_ERR_INPUT, "%s: dataset '%s'[%llu] = %lld is out of range [%lld, %lld]",
                            file, name, (unsigned long long)i, (long long)x, (long long)lo, (long long)hi);
    }
    return CIV_OK;
}

civ_status civ_population_load(const char *path, civ_population *pop, civ_error *err)
{
    memset(pop, 0, sizeof *pop);
    hid_t f = civ_h5_open_input(path, "population file (from 'civitas synth')", err);
    if (f < 0) return err->status;
    civ_status st = CIV_OK;
    char *schema = civ_h5_read_attr_string(f, "schema");
    if (schema && (strcmp(schema, "civitas-population/1") == 0 || strcmp(schema, "civitas-population/2") == 0)) {
        st = civ_fail(err, CIV_ERR_INPUT, "%s: a population made by an earlier civitas (schema '%s', without %s); "
                      "synthesize it again with 'civitas synth'", path, schema,
                      strcmp(schema, "civitas-population/1") == 0 ? "care homes" : "race/ethnicity groups");
        free(schema);
        H5Fclose(f);
        return st;
    }
    if (!schema || strcmp(schema, POP_SCHEMA) != 0) {
        char found[160];
        civ_h5_attr_found(f, "schema", found, sizeof found);
        if (schema) snprintf(found, sizeof found, "'%s'", schema);
        st = civ_fail(err, CIV_ERR_INPUT, "%s: attribute 'schema' is %s, expected the string '%s' (not a civitas "
                      "population file)", path, found, POP_SCHEMA);
        free(schema);
        H5Fclose(f);
        return st;
    }
    free(schema);
    /* counts read as signed, so a negative one is shown as written */
    int64_t counts[4] = {0, 0, 0, 0};
    static const char *const count_names[4] = {"n_agents", "n_households", "n_places", "seed"};
    for (int k = 0; k < 4 && !st; k++)
        if (civ_h5_read_attr_i64(f, count_names[k], &counts[k])) {
            char found[160];
            civ_h5_attr_found(f, count_names[k], found, sizeof found);
            st = civ_fail(err, CIV_ERR_INPUT, "%s: attribute '%s' is %s, expected an integer", path, count_names[k], found);
        }
    if (!st && civ_h5_read_attr_f64(f, "scale", &pop->scale)) {
        char found[160];
        civ_h5_attr_found(f, "scale", found, sizeof found);
        st = civ_fail(err, CIV_ERR_INPUT, "%s: attribute 'scale' is %s, expected a number", path, found);
    }
    if (st) {
        H5Fclose(f);
        return st;
    }
    const int64_t n = counts[0], nh = counts[1], np = counts[2];
    /* every household and every place has at least one member, so neither outnumbers the agents */
    if (n < 1 || n > (int64_t)CIV_MAX_AGENTS)
        st = civ_fail(err, CIV_ERR_INPUT, "%s: attribute n_agents = %lld is out of range (1 to %lld)", path,
                      (long long)n, (long long)CIV_MAX_AGENTS);
    else if (nh < 1 || nh > n)
        st = civ_fail(err, CIV_ERR_INPUT, "%s: attribute n_households = %lld is out of range (1 to n_agents = %lld)",
                      path, (long long)nh, (long long)n);
    else if (np < 0 || np > n)
        st = civ_fail(err, CIV_ERR_INPUT, "%s: attribute n_places = %lld is out of range (0 to n_agents = %lld)",
                      path, (long long)np, (long long)n);
    else if (counts[3] < 0)
        st = civ_fail(err, CIV_ERR_INPUT, "%s: attribute seed = %lld is out of range (0 or more)", path, (long long)counts[3]);
    else if (!(pop->scale > 0 && pop->scale <= 1))
        st = civ_fail(err, CIV_ERR_INPUT, "%s: attribute scale = %g is out of range (0, 1]", path, pop->scale);
    if (st) {
        H5Fclose(f);
        return st;
    }
    char *ref = civ_h5_read_attr_string(f, "employment_reference");
    snprintf(pop->employment_reference, sizeof pop->employment_reference, "%s", ref ? ref : "?");
    free(ref);
    /* the agents' datasets must hold n_agents values before anything is allocated for them: memory follows
       what the file holds, not what an attribute claims */
    uint64_t have = 0;
    if (!(st = civ_h5_read_1d(f, "agents/age", H5T_NATIVE_UINT8, &have, NULL, path, err)) && have != (uint64_t)n)
        st = civ_fail(err, CIV_ERR_INPUT, "%s: dataset 'agents/age' has %llu elements but attribute n_agents = %lld",
                      path, (unsigned long long)have, (long long)n);
    if (st) {
        H5Fclose(f);
        return st;
    }
    pop->n_agents = (uint32_t)n; pop->n_households = (uint32_t)nh; pop->n_places = (uint32_t)np;
    pop->seed = (uint64_t)counts[3];
    pop->borough = civ_xmalloc(n); pop->sex = civ_xmalloc(n); pop->age = civ_xmalloc(n);
    pop->labour = civ_xmalloc(n);
    pop->residence = civ_xmalloc(n);
    pop->ethnicity = civ_xmalloc(n);
    pop->tract = civ_xmalloc(n * 2); pop->household = civ_xmalloc(n * 4); pop->place = civ_xmalloc(n * 4);
    uint64_t nt = 0;
    hid_t geoid_t = H5Tcopy(H5T_C_S1);
    H5Tset_size(geoid_t, 12);
    if ((st = civ_h5_read_1d(f, "tracts/borough", H5T_NATIVE_UINT8, &nt, NULL, path, err))) goto out;
    if (nt == 0 || nt > 65536) {   /* agents/tract is 16-bit */
        st = civ_fail(err, CIV_ERR_INPUT, "%s: dataset 'tracts/borough' has %llu elements, expected 1 to 65536 tracts",
                      path, (unsigned long long)nt);
        goto out;
    }
    pop->n_tracts = (uint32_t)nt;
    pop->tract_borough = civ_xmalloc(nt);
    pop->tract_geoid = civ_xcalloc(nt, 12);
    pop->place_type = civ_xmalloc(np ? np : 1);
    pop->place_borough = civ_xmalloc(np ? np : 1);
    uint64_t n1 = n, n2 = n, n3 = n, n4 = n, n5 = n, n6 = n, n7 = n, n8 = n, n9 = n, t1 = nt, t2 = nt, p1 = np, p2 = np;
    if ((st = civ_h5_read_1d(f, "agents/borough", H5T_NATIVE_UINT8, &n1, pop->borough, path, err)) ||
        (st = civ_h5_read_1d(f, "agents/sex", H5T_NATIVE_UINT8, &n2, pop->sex, path, err)) ||
        (st = civ_h5_read_1d(f, "agents/age", H5T_NATIVE_UINT8, &n3, pop->age, path, err)) ||
        (st = civ_h5_read_1d(f, "agents/labour", H5T_NATIVE_UINT8, &n4, pop->labour, path, err)) ||
        (st = civ_h5_read_1d(f, "agents/residence", H5T_NATIVE_UINT8, &n8, pop->residence, path, err)) ||
        (st = civ_h5_read_1d(f, "agents/ethnicity", H5T_NATIVE_UINT8, &n9, pop->ethnicity, path, err)) ||
        (st = civ_h5_read_1d(f, "agents/tract", H5T_NATIVE_UINT16, &n5, pop->tract, path, err)) ||
        (st = civ_h5_read_1d(f, "agents/household", H5T_NATIVE_UINT32, &n6, pop->household, path, err)) ||
        (st = civ_h5_read_1d(f, "agents/place", H5T_NATIVE_INT32, &n7, pop->place, path, err)) ||
        (st = civ_h5_read_1d(f, "tracts/geoid", geoid_t, &t1, pop->tract_geoid, path, err)) ||
        (st = civ_h5_read_1d(f, "tracts/borough", H5T_NATIVE_UINT8, &t2, pop->tract_borough, path, err)) ||
        (np && (st = civ_h5_read_1d(f, "places/type", H5T_NATIVE_UINT8, &p1, pop->place_type, path, err))) ||
        (np && (st = civ_h5_read_1d(f, "places/borough", H5T_NATIVE_UINT8, &p2, pop->place_borough, path, err))))
        goto out;
    /* validate every index so a corrupt file cannot make the engine read out of bounds */
    if ((st = check_range(path, "agents/borough", n, pop->borough, 1, 0, CIV_NBOROUGH - 1, err)) ||
        (st = check_range(path, "agents/sex", n, pop->sex, 1, 0, 1, err)) ||
        (st = check_range(path, "agents/age", n, pop->age, 1, 0, 120, err)) ||
        (st = check_range(path, "agents/labour", n, pop->labour, 1, 0, 2, err)) ||
        (st = check_range(path, "agents/residence", n, pop->residence, 1, 0, 1, err)) ||
        (st = check_range(path, "agents/ethnicity", n, pop->ethnicity, 1, 0, CIV_N_ETHNICITY - 1, err)) ||
        (st = check_range(path, "agents/tract", n, pop->tract, 2, 0, (int64_t)nt - 1, err)) ||
        (st = check_range(path, "agents/household", n, pop->household, 4, 0, (int64_t)nh - 1, err)) ||
        (st = check_range(path, "agents/place", n, pop->place, 8, -1, (int64_t)np - 1, err)) ||
        (st = check_range(path, "tracts/borough", nt, pop->tract_borough, 1, 0, CIV_NBOROUGH - 1, err)) ||
        (st = check_range(path, "places/type", np, pop->place_type, 1, 0, 2, err)) ||
        (st = check_range(path, "places/borough", np, pop->place_borough, 1, 0, CIV_NBOROUGH - 1, err)))
        goto out;
    for (uint64_t i = 0; i < (uint64_t)n; i++)
        if (pop->borough[i] != pop->tract_borough[pop->tract[i]]) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: agent %llu lives in borough %d but its tract %d is in borough %d "
                          "(agents/borough disagrees with tracts/borough)", path, (unsigned long long)i,
                          pop->borough[i], pop->tract[i], pop->tract_borough[pop->tract[i]]);
            goto out;
        }
    for (uint64_t i = 0; i < (uint64_t)n; i++)
        if (pop->residence[i] == CIV_RES_CARE_HOME &&
            (pop->place[i] < 0 || pop->place_type[pop->place[i]] != CIV_PLACE_CARE_HOME)) {
            st = civ_fail(err, CIV_ERR_INPUT, "%s: agent %llu is a care-home resident (agents/residence) but its place %d "
                          "is not a care home", path, (unsigned long long)i, pop->place[i]);
            goto out;
        }
    for (uint64_t t = 0; t < nt; t++) pop->tract_geoid[t][11] = 0;
out:
    H5Tclose(geoid_t);
    H5Fclose(f);
    if (st) { civ_population_free(pop); return st; }
    civ_population_derive(pop);
    return CIV_OK;
}
