// Broadcasting arithmetic. The engine sums each gradient over broadcast dimensions back to its
// input's shape, so the VJPs below are written as if no broadcasting happened.
#include "matgrad/composed_op.hpp"
#include "pointwise.hpp"

#include <cmath>
#include <type_traits>

namespace matgrad {

std::size_t detail::checked_numel(std::string_view op, const Shape& shape,
                                  std::size_t element_size) {
  // Right to left, as xtensor computes the (signed) strides: each product of trailing dims must
  // fit a ptrdiff_t, also when a leading 0 leaves the shape without elements ([0, 2^40, 2^40]).
  std::size_t n = 1;
  bool overflow = false;
  for (std::size_t i = shape.size(); i-- > 0;) {
    overflow = overflow || __builtin_mul_overflow(n, shape[i], &n) ||
               n > static_cast<std::size_t>(PTRDIFF_MAX);
  }
  std::size_t bytes = 0;
  overflow = overflow || __builtin_mul_overflow(n, element_size, &bytes) ||
             bytes > static_cast<std::size_t>(PTRDIFF_MAX);
  if (overflow) {
    fail<ShapeError>("{}: shape {} has more elements than memory can address", op,
                     to_string(shape));
  }
  return n;
}

Shape detail::broadcast_shapes(std::string_view op, const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::size_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::size_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      fail<ShapeError>("{}: shapes {} and {} cannot be broadcast together (dim {}: {} vs {})", op,
                       to_string(a), to_string(b), i, da, db);
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

void detail::check_integral_scalar(std::string_view op, std::string_view what, double value) {
  if (!(value == std::trunc(value) && value >= -0x1p63 && value < 0x1p63)) {
    fail<ValueError>("{}: {} {} for an int64 tensor is not an integer that int64 holds (torch "
                     "would compute in float: convert the tensor with .to(DType::float32))",
                     op, what, value);
  }
}

void detail::fail_not_floating(std::string_view op, const Tensor& t) {
  fail<DTypeError>("{}: expected a float32 or float64 tensor, got {} of shape {} (an int64 tensor "
                   "is not differentiable; convert it with .to(DType::float32))",
                   op, dtype_name(t.dtype()), to_string(t.shape()));
}

// Floating-point tensors of one dtype, or two int64 tensors (not differentiable: nothing is
// recorded for them, as they never require grad). int64 arithmetic wraps around on overflow,
// as torch's.
template <class F>
static Tensor binary(std::string_view op, const Tensor& a, const Tensor& b, F f) {
  detail::check_same_dtype_any(op, a, b);
  return a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    if constexpr (std::is_integral_v<T>) {
      using U = std::make_unsigned_t<T>;  // wraps without undefined behaviour
      return detail::elementwise(op, x, b.data<T>(), [&](T u, T v) {
        return static_cast<T>(f(static_cast<U>(u), static_cast<U>(v)));
      });
    } else {
      return detail::elementwise(op, x, b.data<T>(), f);
    }
  });
}

static const OpInfo add_info{"add", "dC = dA + dB", "tC = tA + tB", "gA = gC, gB = gC", Saves::nothing,
    "C = A + B"};
Tensor add(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  Tensor out = binary("add", a, b, [](auto x, auto y) { return x + y; });
  return record(
      add_info, std::move(out), {a, b},
      [](const Tangent& ta, const Tangent& tb) { return ta + tb; },
      [](const Tensor& g) -> Grads { return {g, g}; }, caller);
}

static const OpInfo sub_info{"sub", "dC = dA − dB", "tC = tA − tB", "gA = gC, gB = −gC", Saves::nothing,
    "C = A − B"};
Tensor sub(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  Tensor out = binary("sub", a, b, [](auto x, auto y) { return x - y; });
  return record(
      sub_info, std::move(out), {a, b},
      [](const Tangent& ta, const Tangent& tb) { return ta - tb; },
      [](const Tensor& g, const VjpContext& ctx) -> Grads { return {g, ctx.needs[1] ? -g : Tensor()}; },
      caller);
}

static const OpInfo mul_info{"mul", "dC = dA ⊙ B + A ⊙ dB", "tC = tA ⊙ B + A ⊙ tB",
                             "gA = gC ⊙ B, gB = gC ⊙ A",
    "C = A ⊙ B"};
Tensor mul(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  Tensor out = binary("mul", a, b, [](auto x, auto y) { return x * y; });
  return record(
      mul_info, std::move(out), {a, b},
      [&](const Tangent& ta, const Tangent& tb) { return ta * b + a * tb; },
      [a, b](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? g * b : Tensor(), ctx.needs[1] ? g * a : Tensor()};
      },
      caller);
}

static const OpInfo div_info{"div", "dC = dA ⊘ B − A ⊙ dB ⊘ B²", "tC = (tA − C ⊙ tB) ⊘ B",
                             "gA = gC ⊘ B, gB = −gC ⊙ A ⊘ B²",
    "C = A ⊘ B"};
// int64 ⊘ int64 is true division in float32, as torch's (floor_divide rounds down).
Tensor div(const Tensor& a, const Tensor& b, const SourceLocation& caller) {
  if (a.defined() && b.defined() && a.dtype() == DType::int64 && b.dtype() == DType::int64) {
    return div(a.to(DType::float32), b.to(DType::float32), caller);
  }
  Tensor out = binary("div", a, b, [](auto x, auto y) { return x / y; });
  return record(
      div_info, std::move(out), {a, b},
      [&](const Tangent& ta, const Tangent& tb, const JvpContext& ctx) { return (ta - ctx.output * tb) / b; },
      [a, b](const Tensor& g, const VjpContext& ctx) -> Grads {
        return {ctx.needs[0] ? g / b : Tensor(), ctx.needs[1] ? -g * a / (b * b) : Tensor()};
      },
      caller);
}

static const OpInfo neg_info{"neg", "dC = −dA", "tC = −tA", "gA = −gC", Saves::nothing,
    "C = −A"};
Tensor neg(const Tensor& a, const SourceLocation& caller) {
  detail::check_defined_any_dtype("neg", a);
  Tensor out = detail::map_any_data(a, [](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    if constexpr (std::is_integral_v<T>) {  // −(−2⁶³) wraps to itself, as in torch
      return detail::elementwise("neg", x, [](T v) { return static_cast<T>(-static_cast<std::make_unsigned_t<T>>(v)); });
    } else {
      return detail::elementwise("neg", x, [](T v) { return -v; });
    }
  });
  return record(
      neg_info, std::move(out), {a},
      [](const Tangent& ta) { return -ta; },
      [](const Tensor& g) -> Grads { return {-g}; }, caller);
}

static const ComposedOpInfo scalar_operators_composed{"scalar operators", "x + s, x − s, x · s, x / s, s − x, s / x = add, sub, mul, div with s as a 0-d constant tensor of x's dtype"};
Tensor operator+(const Tensor& a, Operand b) { return add(a, b.tensor, b.where); }
Tensor operator-(const Tensor& a, Operand b) { return sub(a, b.tensor, b.where); }
Tensor operator*(const Tensor& a, Operand b) { return mul(a, b.tensor, b.where); }
Tensor operator/(const Tensor& a, Operand b) { return div(a, b.tensor, b.where); }
Tensor operator-(Operand a) { return neg(a.tensor, a.where); }
// A scalar operand in the tensor's dtype; for an int64 tensor it must be an integer.
static Tensor scalar_operand(std::string_view op, const Tensor& like, double value) {
  detail::check_defined_any_dtype(op, like);
  if (like.dtype() == DType::int64) detail::check_integral_scalar(op, "scalar", value);
  return scalar_like(like, value);
}

Tensor operator+(Operand a, double b) { return add(a.tensor, scalar_operand("add", a.tensor, b), a.where); }
Tensor operator+(double a, Operand b) { return add(scalar_operand("add", b.tensor, a), b.tensor, b.where); }
Tensor operator-(Operand a, double b) { return sub(a.tensor, scalar_operand("sub", a.tensor, b), a.where); }
Tensor operator-(double a, Operand b) { return sub(scalar_operand("sub", b.tensor, a), b.tensor, b.where); }
Tensor operator*(Operand a, double b) { return mul(a.tensor, scalar_operand("mul", a.tensor, b), a.where); }
Tensor operator*(double a, Operand b) { return mul(scalar_operand("mul", b.tensor, a), b.tensor, b.where); }
Tensor operator/(Operand a, double b) { return div(a.tensor, scalar_operand("div", a.tensor, b), a.where); }
Tensor operator/(double a, Operand b) { return div(scalar_operand("div", b.tensor, a), b.tensor, b.where); }

}  // namespace matgrad
