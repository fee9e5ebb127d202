#include "host/util/h5_util.h"

#include <hdf5_hl.h>

#include <stdlib.h>
#include <string.h>

void civ_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

hid_t civ_h5_vlen_str(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

civ_status civ_h5_write_1d(hid_t loc, const char *name, hid_t type, uint64_t n,
                           const void *data, const char *file, civ_error *err)
{
    hsize_t dims[1] = {n}, chunk[1] = {n < (1u << 20) ? (n ? n : 1) : (1u << 20)};
    hid_t space = H5Screate_simple(1, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (n > 0) {
        H5Pset_chunk(dcpl, 1, chunk);
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, 1);
    }
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t ds = H5Dcreate2(loc, name, type, space, lcpl, dcpl, H5P_DEFAULT);
    herr_t rc = ds < 0 ? -1 : (n ? H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0);
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(lcpl); H5Pclose(dcpl); H5Sclose(space);
    if (rc < 0) return civ_fail(err, CIV_ERR_IO, "%s: cannot write dataset '%s'", file, name);
    return CIV_OK;
}

civ_status civ_h5_read_1d(hid_t loc, const char *name, hid_t mem_type, uint64_t *n,
                          void *data, const char *file, civ_error *err)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return civ_fail(err, CIV_ERR_INPUT, "%s: missing dataset '%s' (not a civitas population file?)",
                        file, name);
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t space = H5Dget_space(ds);
    hsize_t dims[1] = {0};
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank == 1) H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    if (rank != 1 || (data && dims[0] != *n)) {
        H5Dclose(ds);
        return civ_fail(err, CIV_ERR_INPUT, "%s: dataset '%s' has %llu elements, expected %llu",
                        file, name, (unsigned long long)dims[0], (unsigned long long)*n);
    }
    *n = dims[0];
    herr_t rc = data && dims[0] ? H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    H5Dclose(ds);
    if (rc < 0) return civ_fail(err, CIV_ERR_INPUT, "%s: cannot read dataset '%s'", file, name);
    return CIV_OK;
}

civ_status civ_h5_attr_string(hid_t loc, const char *name, const char *value)
{
    hid_t t = civ_h5_vlen_str(), s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, t, &value);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s); H5Tclose(t);
    return rc < 0 ? CIV_ERR_IO : CIV_OK;
}

static civ_status attr_scalar(hid_t loc, const char *name, hid_t type, const void *v)
{
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, type, s, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a < 0 ? -1 : H5Awrite(a, type, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return rc < 0 ? CIV_ERR_IO : CIV_OK;
}

civ_status civ_h5_attr_u64(hid_t loc, const char *name, uint64_t v) { return attr_scalar(loc, name, H5T_NATIVE_UINT64, &v); }
civ_status civ_h5_attr_f64(hid_t loc, const char *name, double v) { return attr_scalar(loc, name, H5T_NATIVE_DOUBLE, &v); }
civ_status civ_h5_attr_i64(hid_t loc, const char *name, int64_t v) { return attr_scalar(loc, name, H5T_NATIVE_INT64, &v); }

char *civ_h5_read_attr_string(hid_t loc, const char *name)
{
    if (H5Aexists(loc, name) <= 0) return NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    char *out = NULL;
    if (H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t t = civ_h5_vlen_str();
            char *s = NULL;
            if (H5Aread(a, t, &s) >= 0 && s) { out = strdup(s); H5free_memory(s); }
            H5Tclose(t);
        } else {
            size_t len = H5Tget_size(ft);
            out = calloc(len + 1, 1);
            hid_t t = H5Tcopy(H5T_C_S1);
            H5Tset_size(t, len + 1);
            if (H5Aread(a, t, out) < 0) { free(out); out = NULL; }
            H5Tclose(t);
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    return out;
}

static int read_attr_scalar(hid_t loc, const char *name, hid_t type, void *v)
{
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    herr_t rc = H5Aread(a, type, v);
    H5Aclose(a);
    return rc < 0 ? -1 : 0;
}

int civ_h5_read_attr_f64(hid_t loc, const char *name, double *v) { return read_attr_scalar(loc, name, H5T_NATIVE_DOUBLE, v); }
int civ_h5_read_attr_u64(hid_t loc, const char *name, uint64_t *v) { return read_attr_scalar(loc, name, H5T_NATIVE_UINT64, v); }
int civ_h5_read_attr_i64(hid_t loc, const char *name, int64_t *v) { return read_attr_scalar(loc, name, H5T_NATIVE_INT64, v); }

hid_t civ_h5_string_scale(hid_t loc, const char *name, int n, const char *const *labels)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t t = civ_h5_vlen_str(), s = H5Screate_simple(1, dims, NULL);
    hid_t ds = H5Dcreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, labels);
    H5DSset_scale(ds, name);
    H5Tclose(t);
    H5Sclose(s);
    return ds;
}

hid_t civ_h5_int_scale(hid_t loc, const char *name, int n, const int32_t *values)
{
    hsize_t dims[1] = {(hsize_t)n};
    hid_t s = H5Screate_simple(1, dims, NULL);
    hid_t ds = H5Dcreate2(loc, name, H5T_NATIVE_INT32, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    H5DSset_scale(ds, name);
    H5Sclose(s);
    return ds;
}
