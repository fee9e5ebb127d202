#include "host/util/h5_util.h"

#include <hdf5_hl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/util/file.h"

static char h5_reason[256];

/* One error record of a failed call: the system's errno where HDF5 quotes it ("errno = 28"), else the
 * innermost description. */
static herr_t reason_of(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    int *have_errno = data;
    const char *at = e->desc ? strstr(e->desc, "errno = ") : NULL;
    int code = 0;
    if (at && sscanf(at + 8, "%d", &code) == 1 && code > 0) {
        snprintf(h5_reason, sizeof h5_reason, "%s", strerror(code));
        *have_errno = 1;
        return 1;   /* stop: the system's reason is the one that matters */
    }
    if (!h5_reason[0] && e->desc) snprintf(h5_reason, sizeof h5_reason, "HDF5: %s", e->desc);
    return 0;
}

/* Called by HDF5 whenever an API call fails, instead of printing the stack. */
static herr_t record_failure(hid_t stack, void *data)
{
    (void)data;
    static int have_errno;
    if (h5_reason[0] && have_errno) return 0;   /* keep the first system reason */
    if (!h5_reason[0]) have_errno = 0;
    H5Ewalk2(stack, H5E_WALK_UPWARD, reason_of, &have_errno);
    return 0;
}

void civ_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, record_failure, NULL); }

void civ_h5_init(void)
{
    H5dont_atexit();
    civ_h5_quiet();
}

const char *civ_h5_reason(void) { return h5_reason[0] ? h5_reason : "unknown HDF5 error"; }
void civ_h5_reason_clear(void) { h5_reason[0] = 0; }

hid_t civ_h5_open_input(const char *path, const char *what, civ_error *err)
{
    civ_h5_quiet();
    if (civ_check_input(path, what, err)) return -1;
    if (H5Fis_hdf5(path) <= 0) {
        civ_fail(err, CIV_ERR_INPUT, "%s: not an HDF5 file (expected a %s)", path, what);
        return -1;
    }
    civ_h5_reason_clear();
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) civ_fail(err, CIV_ERR_INPUT, "%s: cannot open %s: %s", path, what, civ_h5_reason());
    return f;
}

void civ_h5_type_text(hid_t t, char *buf, size_t len)
{
    const size_t size = H5Tget_size(t);
    switch (H5Tget_class(t)) {
    case H5T_INTEGER: snprintf(buf, len, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", 8 * size); break;
    case H5T_FLOAT: snprintf(buf, len, "float%zu", 8 * size); break;
    case H5T_STRING:
        if (H5Tis_variable_str(t) > 0) snprintf(buf, len, "variable-length string");
        else snprintf(buf, len, "%zu-byte string", size);
        break;
    case H5T_COMPOUND: snprintf(buf, len, "compound"); break;
    case H5T_ENUM: snprintf(buf, len, "enum (e.g. bool)"); break;
    case H5T_ARRAY: snprintf(buf, len, "array type"); break;
    case H5T_VLEN: snprintf(buf, len, "variable-length sequence"); break;
    case H5T_REFERENCE: snprintf(buf, len, "reference"); break;
    case H5T_OPAQUE: snprintf(buf, len, "opaque"); break;
    case H5T_BITFIELD: snprintf(buf, len, "bitfield"); break;
    default: snprintf(buf, len, "unknown type"); break;
    }
}

void civ_h5_shape_text(hid_t space, char *buf, size_t len)
{
    const H5S_class_t cls = H5Sget_simple_extent_type(space);
    if (cls == H5S_SCALAR) { snprintf(buf, len, "scalar"); return; }
    if (cls == H5S_NULL) { snprintf(buf, len, "empty (null dataspace)"); return; }
    hsize_t dims[H5S_MAX_RANK];
    const int rank = H5Sget_simple_extent_dims(space, dims, NULL);
    if (rank < 0) { snprintf(buf, len, "unknown shape"); return; }
    size_t at = (size_t)snprintf(buf, len, "(");
    for (int k = 0; k < rank && at < len; k++)
        at += (size_t)snprintf(buf + at, len - at, "%s%llu", k ? ", " : "", (unsigned long long)dims[k]);
    if (at < len) snprintf(buf + at, len - at, rank == 1 ? ",)" : ")");
}

void civ_h5_attr_found(hid_t loc, const char *name, char *buf, size_t len)
{
    if (H5Aexists(loc, name) <= 0) { snprintf(buf, len, "missing"); return; }
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), t = H5Aget_type(a), sp = H5Aget_space(a);
    char type[64], shape[128];
    civ_h5_type_text(t, type, sizeof type);
    civ_h5_shape_text(sp, shape, sizeof shape);
    if (strcmp(shape, "scalar") == 0) snprintf(buf, len, "a %s", type);
    else snprintf(buf, len, "an array of shape %s and type %s", shape, type);
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
}

int civ_h5_type_fits(hid_t file, hid_t mem)
{
    const H5T_class_t fc = H5Tget_class(file), mc = H5Tget_class(mem);
    const size_t fs = H5Tget_size(file), ms = H5Tget_size(mem);
    if (mc == H5T_FLOAT) return fc == H5T_FLOAT || fc == H5T_INTEGER;
    if (mc == H5T_INTEGER) {
        if (fc != H5T_INTEGER) return 0;
        const int fsig = H5Tget_sign(file) != H5T_SGN_NONE, msig = H5Tget_sign(mem) != H5T_SGN_NONE;
        if (fsig == msig) return fs <= ms;
        return !fsig && fs < ms;   /* unsigned into a wider signed type; never signed into unsigned */
    }
    if (mc == H5T_STRING) {
        if (fc != H5T_STRING) return 0;
        const int fv = H5Tis_variable_str(file) > 0, mv = H5Tis_variable_str(mem) > 0;
        return fv == mv && (fv || fs <= ms);
    }
    return 0;
}

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
    if (rc < 0) return civ_fail(err, CIV_ERR_IO, "%s: cannot write dataset '%s': %s", file, name, civ_h5_reason());
    return CIV_OK;
}

civ_status civ_h5_read_1d(hid_t loc, const char *name, hid_t mem_type, uint64_t *n,
                          void *data, const char *file, civ_error *err)
{
    if (H5Lexists(loc, name, H5P_DEFAULT) <= 0)
        return civ_fail(err, CIV_ERR_INPUT, "%s: missing dataset '%s' (not a civitas population file?)",
                        file, name);
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return civ_fail(err, CIV_ERR_INPUT, "%s: '%s' is not a dataset", file, name);
    hid_t ft = H5Dget_type(ds), space = H5Dget_space(ds);
    const int fits = civ_h5_type_fits(ft, mem_type);
    char found[64], want[64], shape[128];
    civ_h5_type_text(ft, found, sizeof found);
    civ_h5_type_text(mem_type, want, sizeof want);
    civ_h5_shape_text(space, shape, sizeof shape);
    hsize_t dims[1] = {0};
    const int rank = H5Sget_simple_extent_type(space) == H5S_SIMPLE ? H5Sget_simple_extent_ndims(space) : -1;
    if (rank == 1) H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    H5Tclose(ft);
    if (!fits) {
        H5Dclose(ds);
        return civ_fail(err, CIV_ERR_INPUT, "%s: dataset '%s' has type %s, expected %s", file, name, found, want);
    }
    if (rank != 1 || (data && dims[0] != *n)) {
        H5Dclose(ds);
        if (data)
            return civ_fail(err, CIV_ERR_INPUT, "%s: dataset '%s' has shape %s, expected (%llu,)", file, name, shape,
                            (unsigned long long)*n);
        return civ_fail(err, CIV_ERR_INPUT, "%s: dataset '%s' has shape %s, expected one dimension", file, name, shape);
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

/* The attribute, open, if it exists and holds one value (a scalar dataspace); else -1. */
static hid_t open_scalar_attr(hid_t loc, const char *name)
{
    if (H5Aexists(loc, name) <= 0) return -1;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t sp = H5Aget_space(a);
    const int scalar = H5Sget_simple_extent_type(sp) == H5S_SCALAR;
    H5Sclose(sp);
    if (!scalar) { H5Aclose(a); return -1; }
    return a;
}

char *civ_h5_read_attr_string(hid_t loc, const char *name)
{
    hid_t a = open_scalar_attr(loc, name);
    if (a < 0) return NULL;
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

/* A scalar numeric attribute read as `type` (which it must fit), or as the 64-bit integer of the other
 * sign when the file's type is an integer of that sign (the caller checks the value's range). */
static int read_attr_scalar(hid_t loc, const char *name, hid_t type, void *v)
{
    hid_t a = open_scalar_attr(loc, name);
    if (a < 0) return -1;
    hid_t ft = H5Aget_type(a);
    herr_t rc = -1;
    if (civ_h5_type_fits(ft, type)) {
        rc = H5Aread(a, type, v);
    } else if (H5Tget_class(ft) == H5T_INTEGER && H5Tget_class(type) == H5T_INTEGER) {
        if (type == H5T_NATIVE_UINT64) {   /* a signed integer: not below 0 */
            int64_t x;
            if ((rc = H5Aread(a, H5T_NATIVE_INT64, &x)) >= 0 && x < 0) rc = -1;
            if (rc >= 0) *(uint64_t *)v = (uint64_t)x;
        } else if (type == H5T_NATIVE_INT64) {   /* an unsigned 64-bit integer: not above INT64_MAX */
            uint64_t x;
            if ((rc = H5Aread(a, H5T_NATIVE_UINT64, &x)) >= 0 && x > (uint64_t)INT64_MAX) rc = -1;
            if (rc >= 0) *(int64_t *)v = (int64_t)x;
        }
    }
    H5Tclose(ft);
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
