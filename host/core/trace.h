/* NVTX ranges (domain "civitas") around host-side work, so that Nsight Systems
 * shows the HDF5 writes and LLM refreshes next to the GPU's kernels. They are
 * no-ops in builds without CUDA. Usable from C and C++. */
#ifndef CIV_TRACE_H
#define CIV_TRACE_H

#ifdef __cplusplus
extern "C" {
#endif

#ifdef CIVITAS_HAVE_CUDA
void civ_trace_push(const char *name);
void civ_trace_pop(void);
#else
static inline void civ_trace_push(const char *name) { (void)name; }
static inline void civ_trace_pop(void) {}
#endif

#ifdef __cplusplus
}
#endif

#endif
