/* Stand-in for TVM's tvm/runtime/base.h (edgekit.compiler): TVM_DLL marks exported
 * functions; on a microcontroller it is empty. */
#ifndef EDGEKIT_TVM_RUNTIME_BASE_H
#define EDGEKIT_TVM_RUNTIME_BASE_H
#include <stddef.h>
#include <stdint.h>
#ifndef TVM_DLL
#define TVM_DLL
#endif
#endif
