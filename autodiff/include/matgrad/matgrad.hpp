// The umbrella header: everything a user of matgrad's tensors and autograd needs.
#pragma once

#include "matgrad/autograd.hpp"
#include "matgrad/backend.hpp"
#include "matgrad/compare.hpp"
#include "matgrad/error.hpp"
#include "matgrad/forward_ad.hpp"
#include "matgrad/functional.hpp"
#include "matgrad/gradcheck.hpp"
#include "matgrad/graph.hpp"
#include "matgrad/ops.hpp"
#include "matgrad/tensor.hpp"
