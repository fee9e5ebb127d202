/* Small HDF5 helpers shared by the population and trajectory files. */
#ifndef CIV_H5_UTIL_H
#define CIV_H5_UTIL_H

#include <hdf5.h>
#include <stdint.h>

#include "host/util/error.h"

/* Called first by main(): HDF5 must not clean up at exit (a file whose close failed, e.g. on a full disk,
 * would crash the library's shutdown), and its error stack is never printed (civitas reports errors
 * itself); see civ_h5_quiet. */
void civ_h5_init(void);
/* Silences HDF5's own error stack printing; instead every failing HDF5 call records its reason for
 * civ_h5_reason(). */
void civ_h5_quiet(void);
/* The system's reason for the first HDF5 failure since civ_h5_reason_clear() ("No space left on
 * device"), else HDF5's own description, else "unknown HDF5 error". */
const char *civ_h5_reason(void);
void civ_h5_reason_clear(void);

/* Opens an HDF5 input read-only: a regular file (checked first: a FIFO would block), remembered as an
 * input, that HDF5 recognises. `what` names it in messages ("population file"). -1 with err set. */
hid_t civ_h5_open_input(const char *path, const char *what, civ_error *err);

/* Descriptions for messages: "int32", "float64", "variable-length string", "12-byte string", ...; and a
 * dataspace as "scalar" or "(3, 5)". */
void civ_h5_type_text(hid_t type, char *buf, size_t len);
void civ_h5_shape_text(hid_t space, char *buf, size_t len);
/* What attribute `name` of loc is, as found: "missing", "a float64", "an array of shape (2,) and type
 * variable-length string", ... */
void civ_h5_attr_found(hid_t loc, const char *name, char *buf, size_t len);
/* 1 when every value of file type `file` converts to memory type `mem` exactly (no float read as an
 * integer, no integer clipped, no string cut). */
int civ_h5_type_fits(hid_t file, hid_t mem);

/* 1-D dataset of n elements, chunked and deflated. */
civ_status civ_h5_write_1d(hid_t loc, const char *name, hid_t type, uint64_t n,
                           const void *data, const char *file, civ_error *err);
/* Reads a 1-D dataset that must have exactly *n elements into data; with data NULL, only returns its length in *n.
 * The dataset's type must fit mem_type (civ_h5_type_fits); messages give the type and shape found. */
civ_status civ_h5_read_1d(hid_t loc, const char *name, hid_t mem_type, uint64_t *n,
                          void *data, const char *file, civ_error *err);
/* Variable-length UTF-8 string attribute (h5py reads it as str). */
civ_status civ_h5_attr_string(hid_t loc, const char *name, const char *value);
civ_status civ_h5_attr_u64(hid_t loc, const char *name, uint64_t value);
civ_status civ_h5_attr_f64(hid_t loc, const char *name, double value);
civ_status civ_h5_attr_i64(hid_t loc, const char *name, int64_t value);
/* Reads scalar attributes of the expected kind only: a string (fixed or variable length), a number
 * (integer or float) as f64, an integer as i64 (an unsigned one up to INT64_MAX) or u64 (a signed one
 * from 0). NULL or -1 when the attribute is missing or of another type or shape (civ_h5_attr_found says
 * what it is). */
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
