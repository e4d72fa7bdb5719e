// The umbrella header: everything a user of matgrad's tensors and autograd needs.
#pragma once

#include "matgrad/autograd.hpp"
#include "matgrad/error.hpp"
#include "matgrad/gradcheck.hpp"
#include "matgrad/ops.hpp"
#include "matgrad/tensor.hpp"
