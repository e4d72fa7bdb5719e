// Op-table rows of issue 14's tensor-algebra family: diagonal, diag_embed, pad, slice from the
// end, movedim of several dims (diagonal_pad.cpp, rearrange.cpp), kron, cross, vecdot,
// tensordot, multi_dot, matrix_power (tensor_products.cpp), matrix_exp (matrix_exp.cpp) and
// einsum (einsum.cpp). A dim of size 4 becomes 0 in test_zero_size.
#include "op_table.hpp"

namespace matgrad::testing {

namespace {

using In = const std::vector<Tensor>&;

// x + n I, batched over leading dims: far from singular, for the negative matrix powers.
Tensor shifted(const Tensor& x) {
  const std::size_t n = x.shape().back();
  return x + static_cast<double>(n + 1) * eye(n, {.dtype = x.dtype()});
}

}  // namespace

std::vector<OpRow> tensoralg_rows() {
  return {
      {"diagonal", {{{3, 4}}, {{4, 3}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}},
       [](In x) {
         return concat({flatten(diagonal(x[0])), flatten(diagonal(x[0], 1)) * 2.0,
                        flatten(diagonal(x[0], -1, -1, 0)) * 3.0});
       }},
      {"diag_embed", {{{3}}, {{2, 3}}, {{1}}, {{4}}, {{2, 4}}},
       [](In x) {
         return concat({flatten(diag_embed(x[0])), flatten(diag_embed(x[0], 1, 0, -1)) * 2.0,
                        flatten(diag_embed(x[0], -2, -1, 0)) * 3.0});
       }},
      {"pad", {{{3, 4}}, {{2, 3, 4}}, {{1, 5}}, {{5, 1}}},
       [](In x) { return concat({flatten(pad(x[0], {1, 2, 0, 1}, "constant", 0.5)), flatten(pad(x[0], {-1, 1})) * 2.0}); }},
      {"pad reflect", {{{3, 4}}, {{2, 3, 4}}, {{2, 5}}}, [](In x) { return pad(x[0], {2, 1, 1, 1}, "reflect"); }},
      {"pad replicate", {{{3, 4}}, {{1, 5}}, {{5, 1}}, {{2, 3, 4}}}, [](In x) { return pad(x[0], {2, 1, 1, 3}, "replicate"); }},
      {"slice from the end", {{{5, 3}}, {{4, 2}}, {{2, 6}}},
       [](In x) { return concat({flatten(slice(x[0], 0, -3, -1)), flatten(slice(x[0], -1, -2, 100)) * 2.0}); }},
      {"movedim of several dims", {{{2, 3, 4}}, {{1, 5, 2}}}, [](In x) { return movedim(x[0], {0, 1}, {2, 0}) * 2.0; }},
      {"kron", {{{2, 3}, {3, 2}}, {{1, 4}, {2, 1}}, {{3}, {2, 2}}, {{2, 3, 4}, {2}}, {{}, {3}}},
       [](In x) { return kron(x[0], x[1]); }},
      {"cross", {{{4, 3}, {4, 3}}, {{3}, {3}}, {{2, 1, 3}, {1, 4, 3}}}, [](In x) { return cross(x[0], x[1]); }},
      {"cross along dim 0", {{{3, 4}, {3, 4}}, {{3, 1}, {3, 5}}}, [](In x) { return cross(x[0], x[1], 0); }},
      {"vecdot", {{{3, 4}, {3, 4}}, {{4}, {2, 4}}, {{2, 3, 4}, {3, 4}}, {{5, 1}, {5, 1}}, {{7}, {7}}},
       [](In x) { return vecdot(x[0], x[1]); }},
      {"vecdot along dim 0", {{{3, 4}, {3, 1}}, {{1, 5}, {1, 5}}}, [](In x) { return vecdot(x[0], x[1], 0); }},
      {"tensordot", {{{2, 3, 4}, {3, 4, 5}}, {{1, 5}, {1, 5}}, {{3, 4}, {3, 4}}}, [](In x) { return tensordot(x[0], x[1], 2); }},
      {"tensordot over listed dims", {{{3, 2, 4}, {4, 3}}, {{5, 1, 2}, {2, 5}}},
       [](In x) { return tensordot(x[0], x[1], {0, 2}, {1, 0}); }},
      {"tensordot, outer product", {{{3}, {2, 4}}, {{}, {3}}}, [](In x) { return tensordot(x[0], x[1], 0); }},
      {"multi_dot", {{{2, 3}, {3, 4}, {4, 5}}, {{3}, {3, 4}, {4}}, {{1, 4}, {4, 1}, {1, 5}}},
       [](In x) { return multi_dot({x[0], x[1], x[2]}); }},
      {"multi_dot of four", {{{5, 2}, {2, 6}, {6, 3}, {3, 1}}, {{4}, {4, 2}, {2, 3}, {3, 4}}},
       [](In x) { return multi_dot({x[0], x[1], x[2], x[3]}); }},
      {"matrix_power", {{{3, 3}}, {{2, 4, 4}}, {{1, 1}}, {{4, 4}}},
       [](In x) { return matrix_power(x[0], 3) + matrix_power(x[0], 1) * 2.0 + matrix_power(x[0], 0) + matrix_power(x[0], 2); }},
      {"matrix_power, negative", {{{3, 3}}, {{2, 3, 3}}, {{1, 1}}},
       [](In x) { return matrix_power(shifted(x[0]), -2) + matrix_power(shifted(x[0]), -1); }},
      // Scaled to reach each Padé degree (3, 7 or 9) and the scaling and squaring.
      {"matrix_exp", {{{3, 3}}, {{2, 4, 4}}, {{1, 1}}, {{5, 5}}},
       [](In x) {
         return matrix_exp(x[0]) + matrix_exp(x[0] * 0.002) * 2.0 + matrix_exp(x[0] * 0.2) + matrix_exp(x[0] * 3.0) * 0.01;
       }},
      {"einsum", {{{3, 4}, {4, 5}}, {{1, 4}, {4, 1}}, {{5, 1}, {1, 2}}}, [](In x) { return einsum("ij,jk->ik", {x[0], x[1]}); }},
      {"einsum, implicit output", {{{3, 4}, {4, 5}}, {{2, 3}, {3, 1}}}, [](In x) { return einsum("ij,jk", {x[0], x[1]}) + einsum("ba", {x[1]}).sum(); }},
      {"einsum, trace and diagonal", {{{4, 4}}, {{3, 3}}, {{1, 1}}},
       [](In x) { return einsum("ii->i", {x[0]}) + einsum("ii", {x[0]}) + einsum("ij->j", {x[0]}); }},
      {"einsum, batched diagonals", {{{2, 3, 3}}, {{1, 4, 4}}}, [](In x) { return einsum("bii->bi", {x[0]}) * unsqueeze(einsum("bjj->b", {x[0]}), 1); }},
      {"einsum with ...", {{{2, 3, 4}, {4, 5}}, {{3, 4}, {4, 1}}, {{4}, {4, 2}}, {{2, 1, 4}, {4, 3}}},
       [](In x) { return einsum("...j,jk->...k", {x[0], x[1]}); }},
      {"einsum, broadcast batch", {{{2, 3, 4}, {1, 4, 5}}, {{1, 2, 3}, {4, 3, 2}}},
       [](In x) { return einsum("...ij,...jk->...ik", {x[0], x[1]}); }},
      {"einsum, elementwise and outer", {{{3, 4}, {3, 4}}, {{1, 5}, {1, 5}}},
       [](In x) { return einsum("ij,ij->ij", {x[0], x[1]}).sum() + einsum("ij,kl->ijkl", {x[0], x[1]}); }},
      {"einsum of three", {{{2, 3}, {3, 4}, {4, 5}}, {{3}, {3, 4}, {4, 2}}},
       [](In x) {
         return x[0].dim() == 1 ? einsum("i,ij,jk->k", {x[0], x[1], x[2]}) : einsum("ij,jk,kl->il", {x[0], x[1], x[2]});
       }},
  };
}

}  // namespace matgrad::testing
