/* Small HDF5 helpers shared by the population and trajectory files. */
#ifndef CIV_H5_UTIL_H
#define CIV_H5_UTIL_H

#include <hdf5.h>
#include <stdint.h>

#include "host/util/error.h"

/* Silences HDF5's own error stack printing; civitas reports errors itself. */
void civ_h5_quiet(void);

/* 1-D dataset of n elements, chunked and deflated. */
civ_status civ_h5_write_1d(hid_t loc, const char *name, hid_t type, uint64_t n,
                           const void *data, const char *file, civ_error *err);
/* Reads a 1-D dataset that must have exactly *n elements into data; with data NULL, only returns its length in *n. */
civ_status civ_h5_read_1d(hid_t loc, const char *name, hid_t mem_type, uint64_t *n,
                          void *data, const char *file, civ_error *err);
/* Variable-length UTF-8 string attribute (h5py reads it as str). */
civ_status civ_h5_attr_string(hid_t loc, const char *name, const char *value);
civ_status civ_h5_attr_u64(hid_t loc, const char *name, uint64_t value);
civ_status civ_h5_attr_f64(hid_t loc, const char *name, double value);
civ_status civ_h5_attr_i64(hid_t loc, const char *name, int64_t value);
/* Reads attributes; missing -> error naming file and attribute. */
char *civ_h5_read_attr_string(hid_t loc, const char *name);  /* malloc'd or NULL */
int civ_h5_read_attr_f64(hid_t loc, const char *name, double *v);
int civ_h5_read_attr_u64(hid_t loc, const char *name, uint64_t *v);
int civ_h5_read_attr_i64(hid_t loc, const char *name, int64_t *v);
/* 1-D dimension scales named `name` (xarray/netCDF dimension names); caller closes. */
hid_t civ_h5_string_scale(hid_t loc, const char *name, int n, const char *const *labels);
hid_t civ_h5_int_scale(hid_t loc, const char *name, int n, const int32_t *values);
/* vlen UTF-8 string datatype (caller closes). */
hid_t civ_h5_vlen_str(void);
/* The native HDF5 type of a C integer type (for fields listed by X-macros). */
#define CIV_H5_NATIVE(type)                                                                                  \
    _Generic((type)0, int8_t: H5T_NATIVE_INT8, uint8_t: H5T_NATIVE_UINT8, int16_t: H5T_NATIVE_INT16,        \
             uint16_t: H5T_NATIVE_UINT16, int32_t: H5T_NATIVE_INT32, uint32_t: H5T_NATIVE_UINT32,            \
             int64_t: H5T_NATIVE_INT64, uint64_t: H5T_NATIVE_UINT64)

#endif
