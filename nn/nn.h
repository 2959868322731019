// duel's neural-network library (includes the whole tensor core, duel.h): modules, layers, initialisers, optimizers,
// learning-rate schedules and training utilities.
//   duel::nn      Module, Sequential, ModuleList, the layers, clip_grad_norm_, EMA, soft_update
//   duel::nn::init  weight initialisers
//   duel::optim   SGD, Adam, AdamW, RMSprop, StepLR, LinearLR, ExponentialLR, LambdaLR
#pragma once

#include "duel.h"  // the tensor core: ops, autograd, random
#include "nn/activation.h"
#include "nn/conv.h"
#include "nn/init.h"
#include "nn/linear.h"
#include "nn/lr_scheduler.h"
#include "nn/misc.h"
#include "nn/module.h"
#include "nn/norm.h"
#include "nn/optim.h"
#include "nn/rnn.h"
#include "nn/utils.h"
