// What the views of the recorded graph share (graph.cpp, explain*.cpp). Private to the library.
#pragma once

#include "tape.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace matgrad::detail {

// The records that `output` depends on, oldest first, found without recursion; fails (naming
// `who`) on a record released by backward.
std::vector<const Node*> records_behind(std::string_view who, const Tensor& output);

// The part of a VJP rule for each input: "gA = gC ⊙ B, gB = gC ⊙ A" gives "gA = gC ⊙ B" and
// "gB = gC ⊙ A". Rules that do not split into one gradient per input stay whole.
std::vector<std::string> vjp_parts(std::string_view rule, std::size_t inputs);

}  // namespace matgrad::detail
