// scatter_reduce (sum, prod, mean, amax, amin; include_self) and index_put, which composes from
// the scatters. The rules of scatter_reduce are written in one form for every reduction: the
// positions of A that some index names are "touched"; w = 1, or the untouched mask without
// include_self, weighs A's own element; N counts the elements reduced at each position.
#include "matgrad/composed_op.hpp"
#include "common.hpp"

#include <algorithm>
#include <limits>

namespace matgrad {

using detail::wrap_dim;

namespace {

template <class T>
T identity(ScatterReduce r) {
  switch (r) {
    case ScatterReduce::prod: return T(1);
    case ScatterReduce::amax:
      return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
    case ScatterReduce::amin:
      return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
    default: return T(0);
  }
}

// NaN propagates through amax and amin, as in torch.
template <class T>
T combine(ScatterReduce r, T acc, T v) {
  switch (r) {
    case ScatterReduce::prod: return acc * v;
    case ScatterReduce::amax: return (v > acc || v != v) ? v : acc;
    case ScatterReduce::amin: return (v < acc || v != v) ? v : acc;
    default: return acc + v;
  }
}

}  // namespace

static const OpInfo scatter_reduce_info{
    "scatter_reduce",
    "dC = Wa ⊙ dA + scatter_add(0, dim, index, WS ⊙ dS) (sum: Wa = w, WS = 1; mean: Wa = w ⊘ N, "
    "WS = gather(1 ⊘ N); amax, amin: Wa = E_A ⊘ N, WS = E_S ⊘ gather(N) with E the ties of the "
    "result; prod: Wa = w C ⊘ A, WS = gather(C) ⊘ S; w = [include_self], N the count of each "
    "position, gather along dim at index)",
    "the differential with tA, tS for dA, dS",
    "gA = Wa ⊙ gC, gS = WS ⊙ gather(gC, dim, index) (with Wa and WS as in the differential)",
    Saves::inputs_and_output,
    "C = scatter_reduce(A, dim, index, S, reduce)"};

Tensor scatter_reduce(const Tensor& a, std::ptrdiff_t dim, const Tensor& index, const Tensor& src,
                      ScatterReduce reduce, bool include_self, const SourceLocation& caller) {
  detail::check_same_dtype_any("scatter_reduce", a, src);
  const std::size_t d = wrap_dim("scatter_reduce", dim, a.dim());
  detail::check_index_shape("scatter_reduce", a, d, index, &src);
  const Tensor idx = detail::copy(index);
  // How many src elements each position of a takes; scatter_add checks index against a.
  const Tensor counts = scatter_add(zeros(a.shape(), {.dtype = DType::int64}), dim, idx,
                                    ones(index.shape(), {.dtype = DType::int64}));
  const std::int64_t* count = counts.data<std::int64_t>().data();
  const auto dd = static_cast<std::ptrdiff_t>(d);
  Tensor out = a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    // Each touched position starts from a's element (include_self) or the identity, then takes
    // in the src elements sent there: scatter of the start values, then a walk of the index.
    Tensor y = detail::empty_tensor<T>(x.shape(), "scatter_reduce");
    T* dst = detail::elements_of<T>(y);
    for (std::size_t i = 0; i < x.size(); ++i) {
      dst[i] = count[i] > 0 && !include_self ? identity<T>(reduce) : x.data()[i];
    }
    const Tensor block = detail::leading_block(src, index.shape());
    // The offset in a of each index element: gather of a's own offsets.
    const Tensor flat_target = gather(reshape(arange(static_cast<double>(x.size()), {.dtype = DType::int64}), x.shape()), dim, idx);
    const std::int64_t* target = flat_target.data<std::int64_t>().data();
    const T* from = block.data<T>().data();
    for (std::size_t k = 0; k < index.numel(); ++k) {
      T& acc = dst[target[k]];
      acc = combine(reduce, acc, from[k]);
    }
    if (reduce == ScatterReduce::mean) {
      for (std::size_t i = 0; i < x.size(); ++i) {
        const auto n = static_cast<T>(count[i] + (include_self ? 1 : 0));
        if (count[i] > 0) {
          if constexpr (std::is_integral_v<T>) {
            dst[i] = static_cast<T>(dst[i] / n - ((dst[i] % n != 0 && (dst[i] < 0) != (n < 0)) ? 1 : 0));
          } else {
            dst[i] /= n;
          }
        }
      }
    }
    return y;
  });
  if (a.dtype() == DType::int64) return out;
  const Shape block_shape = index.shape();
  // The constants of the rules, in a's dtype: w, N, and for amax/amin the ties E_A, E_S.
  const DType dtype = a.dtype();
  const Tensor untouched = eq(counts, zeros({}, {.dtype = DType::int64})).to(dtype);
  const Tensor w = include_self ? ones({}, {.dtype = dtype}) : untouched;
  Tensor n = (counts + (include_self ? 1.0 : 0.0)).to(dtype);
  n = where(n, n, ones({}, {.dtype = dtype}));  // untouched: 1 (nothing divides there)
  Tensor ties_a, ties_s;
  if (reduce == ScatterReduce::amax || reduce == ScatterReduce::amin) {
    const Tensor c = out.detach();
    ties_a = eq(a.detach(), c) * w;
    ties_s = eq(detail::leading_block(src.detach(), block_shape), gather(c, dd, idx));
    n = ties_a + scatter_add(zeros(a.shape(), {.dtype = dtype}), dd, idx, ties_s);
  }
  if (reduce == ScatterReduce::prod) {
    const Tensor zero = zeros({}, {.dtype = dtype});
    const bool zero_factor = (include_self && count_nonzero(eq(a, zero)).item() > 0) ||
                             count_nonzero(eq(detail::leading_block(src, block_shape), zero)).item() > 0;
    if (zero_factor && (a.requires_grad() || src.requires_grad()) && is_grad_enabled()) {
      fail<ValueError>("scatter_reduce: the gradient of prod where a factor is 0 is not implemented "
                       "(torch computes it from the other factors); shift the factors away from 0");
    }
  }
  const Shape src_shape = src.shape();
  auto scatter_src = [idx, dd, shape = a.shape()](const Tensor& t) {
    return scatter_add(zeros(shape, {.dtype = t.dtype()}), dd, idx, t);
  };
  return record(
      scatter_reduce_info, std::move(out), {a, src},
      [&](const Tangent& ta, const Tangent& ts, const JvpContext& ctx) -> Tangent {
        const Tensor& c = ctx.output;
        switch (reduce) {
          case ScatterReduce::sum:
            return ta.map([&](const Tensor& t) { return t * w; }) +
                   ts.map([&](const Tensor& t) { return scatter_src(detail::leading_block(t, block_shape)); });
          case ScatterReduce::mean:
            return ta.map([&](const Tensor& t) { return t * w / n; }) +
                   ts.map([&](const Tensor& t) { return scatter_src(detail::leading_block(t, block_shape)) / n; });
          case ScatterReduce::prod:
            return ta.map([&](const Tensor& t) { return include_self ? c * t / a : t * w; }) +
                   ts.map([&](const Tensor& t) {
                     return c * scatter_src(detail::leading_block(t, block_shape) / detail::leading_block(src, block_shape));
                   });
          default:
            return ta.map([&](const Tensor& t) { return t * ties_a / n; }) +
                   ts.map([&](const Tensor& t) { return scatter_src(detail::leading_block(t, block_shape) * ties_s) / n; });
        }
      },
      [=](const Tensor& g, const VjpContext& ctx) -> Grads {
        const Shape& block = block_shape;
        Tensor ga, gs;
        switch (reduce) {
          case ScatterReduce::sum:
            ga = g * w;
            gs = gather(g, dd, idx);
            break;
          case ScatterReduce::mean:
            ga = g * w / n;
            gs = gather(g / n, dd, idx);
            break;
          case ScatterReduce::prod:
            ga = include_self ? g * ctx.output / a : g * w;
            gs = gather(g * ctx.output, dd, idx) / detail::leading_block(src, block);
            break;
          default:
            ga = g * ties_a / n;
            gs = gather(g / n, dd, idx) * ties_s;
            break;
        }
        return {ctx.needs[0] ? ga : Tensor(), ctx.needs[1] ? detail::pad_to(gs, src_shape) : Tensor()};
      },
      caller);
}

static const ComposedOpInfo index_put_composed{"index_put", "C = reshape(scatter(A as [M, R], 0, flat row of each index, V)), scatter_add with accumulate; a Mask index = its nonzero() columns"};
// a[i₀, i₁, ...] = values: the k indexed dims flattened into one of size M, a viewed as [M, R],
// then a scatter (or scatter_add) along dim 0 of rows at the flattened indices.
// A mask is first replaced by the columns of its nonzero(), as torch does with a bool index.
Tensor index_put(const Tensor& a, const std::vector<TensorIndex>& given, const Tensor& values,
                 bool accumulate, const SourceLocation& caller) {
  detail::check_same_dtype_any("index_put", a, values);
  if (given.empty()) fail<ValueError>("index_put: expects at least one index tensor, got none");
  std::vector<Tensor> indices;
  for (const TensorIndex& index : given) {
    if (!index.is_mask) {
      indices.push_back(index.tensor);
      continue;
    }
    const Tensor& m = index.tensor;
    detail::check_defined_any_dtype("index_put", m);
    const std::size_t first = indices.size(), k = m.dim();
    if (k == 0) fail<IndexError>("index_put: a 0-d mask (torch's a[True]) is not supported");
    if (first + k > a.dim() || !std::equal(m.shape().begin(), m.shape().end(), a.shape().begin() + static_cast<std::ptrdiff_t>(first))) {
      fail<IndexError>("index_put: the mask of shape {} at dim {} does not match the indexed tensor of shape {}",
                       to_string(m.shape()), first, to_string(a.shape()));
    }
    const Tensor at = nonzero(m);  // [n, k]
    const std::size_t n = at.size(0);
    const std::int64_t* c = at.data<std::int64_t>().data();
    for (std::size_t j = 0; j < k; ++j) {
      Tensor column = detail::empty_tensor<std::int64_t>({n}, "index_put");
      std::int64_t* dst = detail::elements_of<std::int64_t>(column);
      for (std::size_t p = 0; p < n; ++p) dst[p] = c[p * k + j];
      indices.push_back(std::move(column));
    }
  }
  if (indices.size() > a.dim()) {
    fail<IndexError>("index_put: {} index tensors for a tensor of rank {} (shape {})", indices.size(),
                     a.dim(), to_string(a.shape()));
  }
  Shape batch;
  for (const Tensor& i : indices) {
    detail::check_index_tensor("index_put", "each index", i);
    batch = detail::broadcast_shapes("index_put", batch, i.shape());
  }
  const std::size_t k = indices.size();
  const Shape& s = a.shape();
  const std::size_t rows = detail::dims_product(s, 0, k), row = detail::dims_product(s, k, s.size());
  const std::size_t count = detail::checked_numel("index_put", batch, 8);
  // The flat row of each indexed position; negative indices count from the end, as torch's.
  Tensor flat = detail::empty_tensor<std::int64_t>({count, 1}, "index_put");
  std::int64_t* f = detail::elements_of<std::int64_t>(flat);
  std::fill(f, f + count, 0);
  for (std::size_t j = 0; j < k; ++j) {
    const Tensor i = broadcast_to(indices[j], batch);
    const std::int64_t* v = i.data<std::int64_t>().data();
    const auto size = static_cast<std::int64_t>(s[j]);
    for (std::size_t p = 0; p < count; ++p) {
      if (v[p] < -size || v[p] >= size) {
        fail<IndexError>("index_put: index {} is out of range for dim {} of size {}", v[p], j, size);
      }
      f[p] = f[p] * size + (v[p] < 0 ? v[p] + size : v[p]);
    }
  }
  Shape target = batch;
  target.insert(target.end(), s.begin() + static_cast<std::ptrdiff_t>(k), s.end());
  if (detail::broadcast_shapes("index_put", values.shape(), target) != target) {
    fail<ShapeError>("index_put: values of shape {} do not broadcast to the indexed shape {}",
                     to_string(values.shape()), to_string(target));
  }
  const Tensor a2 = reshape(a, {static_cast<std::ptrdiff_t>(rows), static_cast<std::ptrdiff_t>(row)}, caller);
  const Tensor v2 = reshape(broadcast_to(values, target, caller),
                            {static_cast<std::ptrdiff_t>(count), static_cast<std::ptrdiff_t>(row)}, caller);
  const Tensor idx = broadcast_to(flat, {count, row});
  const Tensor out = accumulate ? scatter_add(a2, 0, idx, v2, caller) : scatter(a2, 0, idx, v2, caller);
  return reshape(out, s, caller);
}

}  // namespace matgrad
