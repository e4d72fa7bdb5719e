// Kernels and record helpers shared by the pointwise families (elementwise.cpp,
// trigonometric.cpp, special.cpp, activations.cpp, rounding.cpp, binary.cpp).
#pragma once

#include "common.hpp"

#include <string_view>
#include <utility>

namespace matgrad::detail {

// y = f(x) elementwise, in a's dtype.
template <class F>
Tensor unary(std::string_view op, const Tensor& a, F f) {
  check_defined(op, a);
  return map_data(a, [&](const auto& x) { return elementwise(op, x, f); });
}

// z = f(x, y) elementwise with NumPy broadcasting; a and b share a dtype.
template <class F>
Tensor binary(std::string_view op, const Tensor& a, const Tensor& b, F f) {
  return map_data2(op, a, b, [&](const auto& x, const auto& y) { return elementwise(op, x, y, f); });
}

// A 0/1 tensor of a's dtype and shape: 1 where pred(a) holds. Never recorded.
template <class P>
Tensor mask_of(std::string_view op, const Tensor& a, P pred) {
  return unary(op, a, [&](auto v) { return static_cast<decltype(v)>(pred(v) ? 1 : 0); });
}

// The same for two tensors, broadcast: 1 where pred(a, b) holds. Never recorded.
template <class P>
Tensor mask_of(std::string_view op, const Tensor& a, const Tensor& b, P pred) {
  return binary(op, a, b, [&](auto u, auto v) { return static_cast<decltype(u)>(pred(u, v) ? 1 : 0); });
}

// w = f(x, y, z) elementwise over the broadcast of three tensors of one dtype (lerp, clamp with
// tensor bounds).
template <class F>
Tensor ternary(std::string_view op, const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  check_same_dtype(op, a, b);
  check_same_dtype(op, a, c);
  const Shape shape = broadcast_shapes(op, broadcast_shapes(op, a.shape(), b.shape()), c.shape());
  return a.visit([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    const auto& y = b.data<T>();
    const auto& z = c.data<T>();
    Tensor out = empty_tensor<T>(shape, op);
    T* dst = elements_of<T>(out);
    const std::size_t n = out.numel();
    if (x.shape() == shape && y.shape() == shape && z.shape() == shape) {
      for (std::size_t i = 0; i < n; ++i) dst[i] = f(x.data()[i], y.data()[i], z.data()[i]);
      return out;
    }
    auto bx = xt::broadcast(x, shape);
    auto by = xt::broadcast(y, shape);
    auto bz = xt::broadcast(z, shape);
    auto ix = bx.cbegin();
    auto iy = by.cbegin();
    auto iz = bz.cbegin();
    for (std::size_t i = 0; i < n; ++i, ++ix, ++iy, ++iz) dst[i] = f(*ix, *iy, *iz);
    return out;
  });
}

// Records C = f(A), out, with dC = f'(A) ⊙ dA where slope(A) is f'(A) written with matgrad ops
// (so that the VJP and the JVP differentiate again): tC = f'(A) ⊙ tA, gA = gC ⊙ f'(A).
template <class Slope>
Tensor record_slope(const OpInfo& info, Tensor out, const Tensor& a, Slope slope,
                    const SourceLocation& caller) {
  return record(
      info, std::move(out), {a},
      [&](const Tangent& ta) -> Tangent {
        if (!ta) return ta;
        return slope(a) * ta;
      },
      [a, slope](const Tensor& g) -> Grads { return {g * slope(a)}; }, caller);
}

// The same where f'(A) is cheaper read off the output C (exp2, expm1, rsqrt, ...): slope(C).
// The OpInfo saves the output (Saves::output).
template <class Slope>
Tensor record_slope_of_output(const OpInfo& info, Tensor out, const Tensor& a, Slope slope,
                              const SourceLocation& caller) {
  return record(
      info, std::move(out), {a},
      [&](const Tangent& ta, const JvpContext& ctx) -> Tangent {
        if (!ta) return ta;
        return slope(ctx.output) * ta;
      },
      [slope](const Tensor& g, const VjpContext& ctx) -> Grads { return {g * slope(ctx.output)}; },
      caller);
}

// Records an op whose derivative is zero wherever it exists (floor, round, div with a
// rounding mode, ...): recorded as PyTorch does, so its output requires grad and backward
// sends exact zeros; its tangent is zero (absent).
inline Tensor record_zero_slope(const OpInfo& info, Tensor out, const Tensor& a, const SourceLocation& caller) {
  return record(
      info, std::move(out), {a}, [](const Tangent&) { return Tangent(); },
      [](const Tensor& g) -> Grads { return {zeros_like(g)}; }, caller);
}
inline Tensor record_zero_slope(const OpInfo& info, Tensor out, const Tensor& a, const Tensor& b,
                                const SourceLocation& caller) {
  return record(
      info, std::move(out), {a, b}, [](const Tangent&, const Tangent&) { return Tangent(); },
      [](const Tensor& g) -> Grads { return {zeros_like(g), zeros_like(g)}; }, caller);
}

}  // namespace matgrad::detail
