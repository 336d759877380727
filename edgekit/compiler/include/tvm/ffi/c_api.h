/* Stand-in for TVM's tvm/ffi/c_api.h, shipped by edgekit.compiler.
 * kernels.c is generated with plain pointer arguments and uses nothing from the TVM-FFI
 * runtime; this header only provides the types the generated file expects. Any use of a
 * TVMFFI* function would fail to compile (no declarations here), on purpose. */
#ifndef EDGEKIT_TVM_FFI_C_API_H
#define EDGEKIT_TVM_FFI_C_API_H
#include <stddef.h>
#include <stdint.h>
#ifndef TVM_FFI_DLL
#define TVM_FFI_DLL
#endif
#endif
