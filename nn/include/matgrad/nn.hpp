// The umbrella header of matgrad's nn module: layers, initialisers, losses, optimisers and
// schedules, gradient clipping, data loading, checkpoints and metrics.
#pragma once

#include "matgrad/matgrad.hpp"
#include "matgrad/nn/checkpoint.hpp"
#include "matgrad/nn/data.hpp"
#include "matgrad/nn/init.hpp"
#include "matgrad/nn/layers.hpp"
#include "matgrad/nn/loss.hpp"
#include "matgrad/nn/lr_scheduler.hpp"
#include "matgrad/nn/metrics.hpp"
#include "matgrad/nn/module.hpp"
#include "matgrad/nn/optim.hpp"
#include "matgrad/nn/utils.hpp"
