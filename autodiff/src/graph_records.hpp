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

// The rule without its closing remark: "gA = gc A / c (0 where c = 0)" gives "gA = gc A / c".
// A remark is a trailing parenthesis, after a space, that opens with a lowercase letter or a
// digit and holds a word of prose (three letters or more, not a function's name); so
// "C ⊙ (dA − Σ_dim(C ⊙ dA))" and "α (e^A − 1)" keep their last factor.
std::string without_remark(std::string rule);

}  // namespace matgrad::detail
