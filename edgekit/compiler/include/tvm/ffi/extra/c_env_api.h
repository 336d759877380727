/* Stand-in for TVM's tvm/ffi/extra/c_env_api.h (edgekit.compiler): nothing is used. */
#ifndef EDGEKIT_TVM_FFI_EXTRA_C_ENV_API_H
#define EDGEKIT_TVM_FFI_EXTRA_C_ENV_API_H
#include "../c_api.h"
#endif
