/* Stand-in for TVM's tvm/runtime/c_backend_api.h (edgekit.compiler). The kernels never
 * allocate workspace or launch parallel tasks, so TVMBackend* is deliberately not declared:
 * generated code that needed it would not compile. */
#ifndef EDGEKIT_TVM_RUNTIME_C_BACKEND_API_H
#define EDGEKIT_TVM_RUNTIME_C_BACKEND_API_H
#include "base.h"
#endif
