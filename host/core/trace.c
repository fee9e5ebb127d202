/* NVTX ranges in the domain "civitas" (see trace.h); built only with CUDA, where the NVTX3 headers are. */
#include "host/core/trace.h"

#include <string.h>

#include <nvtx3/nvToolsExt.h>

static nvtxDomainHandle_t civitas_domain(void)
{
    static nvtxDomainHandle_t domain;   /* created on first use, from the host thread */
    if (!domain) domain = nvtxDomainCreateA("civitas");
    return domain;
}

void civ_trace_push(const char *name)
{
    nvtxEventAttributes_t a;
    memset(&a, 0, sizeof a);
    a.version = NVTX_VERSION;
    a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    a.messageType = NVTX_MESSAGE_TYPE_ASCII;
    a.message.ascii = name;
    nvtxDomainRangePushEx(civitas_domain(), &a);
}

void civ_trace_pop(void) { nvtxDomainRangePop(civitas_domain()); }
