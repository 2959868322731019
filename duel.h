// duel: a tensor and automatic-differentiation engine with hand-written kernels.
// The one header an embedding program includes: #include <duel/duel.h>
#pragma once

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/gradcheck.h"
#include "autograd/node.h"
#include "kernels/cpu/fp_env.h"  // set_flush_denormal
#include "kernels/impl.h"  // set_impl: which implementation runs an op (cuDNN, a CPU GEMM variant, ...)
#include "tensor/ops/elementwise.h"
#include "tensor/ops/linalg.h"
#include "tensor/ops/loss.h"
#include "tensor/ops/nn_ops.h"
#include "tensor/ops/reduction.h"
#include "tensor/ops/shape_ops.h"
#include "tensor/random.h"
#include "tensor/serialize.h"
#include "tensor/tensor.h"
