// Ops that rearrange elements (issue 14's shape family): permute, flip, roll, triu / tril and
// repeat, each a copy (matgrad has no strided views), and what composes from them and the
// views: movedim, tile, expand, split, chunk, unbind. Any dtype; each primitive's adjoint is its
// inverse rearrangement (repeat's is a sum over the copies).
#include "matgrad/composed_op.hpp"
#include "common.hpp"

#include <numeric>
#include <vector>

namespace matgrad {

using detail::check_defined_any_dtype;
using detail::normalize_dim;

namespace {

std::vector<std::size_t> strides_of(const Shape& s) {
  std::vector<std::size_t> strides(s.size(), 1);
  for (std::size_t d = s.size(); d-- > 1;) strides[d - 1] = strides[d] * s[d];
  return strides;
}

// A tensor of out_shape whose element at coordinates c is a's element at offset source(c).
template <class Source>
Tensor rearranged(std::string_view op, const Tensor& a, const Shape& out_shape, Source source) {
  return a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    Tensor y = detail::empty_tensor<T>(out_shape, op);
    T* dst = detail::elements_of<T>(y);
    const std::size_t n = y.numel();
    std::vector<std::size_t> c(out_shape.size(), 0);
    for (std::size_t k = 0; k < n; ++k) {
      dst[k] = x.data()[source(c)];
      for (std::size_t d = out_shape.size(); d-- > 0;) {
        if (++c[d] < out_shape[d]) break;
        c[d] = 0;
      }
    }
    return y;
  });
}

// Each dim of `dims` normalised, refused when repeated.
std::vector<std::size_t> distinct_dims(std::string_view op, const std::vector<std::ptrdiff_t>& dims, std::size_t rank) {
  std::vector<std::size_t> out;
  std::vector<bool> seen(rank, false);
  for (const std::ptrdiff_t d : dims) {
    const std::size_t n = normalize_dim(op, d, rank);
    if (seen[n]) fail<IndexError>("{}: dim {} appears more than once", op, d);
    seen[n] = true;
    out.push_back(n);
  }
  return out;
}

std::vector<std::ptrdiff_t> as_signed(const std::vector<std::size_t>& v) { return {v.begin(), v.end()}; }

}  // namespace

static const OpInfo permute_info{"permute", "dC = permute(dA, dims)", "tC = permute(tA, dims)",
                                 "gA = permute(gC, dims⁻¹)", Saves::nothing,
    "C = permute(A, dims)"};
Tensor permute(const Tensor& a, const std::vector<std::ptrdiff_t>& dims, const SourceLocation& caller) {
  check_defined_any_dtype("permute", a);
  if (dims.size() != a.dim()) {
    fail<ShapeError>("permute: {} dims given for a tensor of rank {} (shape {})", dims.size(), a.dim(),
                     to_string(a.shape()));
  }
  const std::vector<std::size_t> p = distinct_dims("permute", dims, a.dim());
  const Shape& s = a.shape();
  const auto in_strides = strides_of(s);
  Shape out_shape(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) out_shape[i] = s[p[i]];
  Tensor out = rearranged("permute", a, out_shape, [&](const std::vector<std::size_t>& c) {
    std::size_t offset = 0;
    for (std::size_t i = 0; i < p.size(); ++i) offset += c[i] * in_strides[p[i]];
    return offset;
  });
  std::vector<std::ptrdiff_t> inverse(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) inverse[p[i]] = static_cast<std::ptrdiff_t>(i);
  return record(
      permute_info, std::move(out), {a},
      [&](const Tangent& ta) { return ta.map([&](const Tensor& t) { return permute(t, as_signed(p)); }); },
      [inverse](const Tensor& g) -> Grads { return {permute(g, inverse)}; }, caller);
}

static const ComposedOpInfo movedim_composed{"movedim", "C = permute(A) with the source dims at the destinations, the others in order"};
Tensor movedim(const Tensor& a, std::ptrdiff_t source, std::ptrdiff_t destination, const SourceLocation& caller) {
  check_defined_any_dtype("movedim", a);
  if (a.dim() == 0) {
    normalize_dim("movedim", source, 1);
    normalize_dim("movedim", destination, 1);
    return a;
  }
  const std::size_t from = normalize_dim("movedim", source, a.dim());
  const std::size_t to = normalize_dim("movedim", destination, a.dim());
  std::vector<std::size_t> order(a.dim());
  std::iota(order.begin(), order.end(), std::size_t{0});
  order.erase(order.begin() + static_cast<std::ptrdiff_t>(from));
  order.insert(order.begin() + static_cast<std::ptrdiff_t>(to), from);
  return permute(a, as_signed(order), caller);
}

Tensor movedim(const Tensor& a, const std::vector<std::ptrdiff_t>& source, const std::vector<std::ptrdiff_t>& destination,
               const SourceLocation& caller) {
  check_defined_any_dtype("movedim", a);
  if (source.size() != destination.size()) {
    fail<ShapeError>("movedim: {} source dims but {} destination dims", source.size(), destination.size());
  }
  const std::size_t rank = std::max<std::size_t>(a.dim(), 1);  // a 0-d tensor takes dim 0 or -1
  const std::vector<std::size_t> from = distinct_dims("movedim", source, rank);
  const std::vector<std::size_t> to = distinct_dims("movedim", destination, rank);
  if (a.dim() == 0) return a;
  std::vector<std::ptrdiff_t> order(rank, -1);
  std::vector<bool> moved(rank, false);
  for (std::size_t k = 0; k < from.size(); ++k) {
    order[to[k]] = static_cast<std::ptrdiff_t>(from[k]);
    moved[from[k]] = true;
  }
  std::size_t next = 0;
  for (auto& o : order) {
    if (o != -1) continue;
    while (moved[next]) ++next;
    o = static_cast<std::ptrdiff_t>(next++);
  }
  return permute(a, order, caller);
}

static const OpInfo flip_info{"flip", "dC = flip(dA, dims)", "tC = flip(tA, dims)", "gA = flip(gC, dims)",
                              Saves::nothing,
    "C = flip(A, dims)"};
Tensor flip(const Tensor& a, const std::vector<std::ptrdiff_t>& dims, const SourceLocation& caller) {
  check_defined_any_dtype("flip", a);
  const std::vector<std::size_t> f = distinct_dims("flip", dims, a.dim());
  const Shape& s = a.shape();
  std::vector<bool> flipped(s.size(), false);
  for (const std::size_t d : f) flipped[d] = true;
  const auto strides = strides_of(s);
  Tensor out = rearranged("flip", a, s, [&](const std::vector<std::size_t>& c) {
    std::size_t offset = 0;
    for (std::size_t d = 0; d < s.size(); ++d) offset += (flipped[d] ? s[d] - 1 - c[d] : c[d]) * strides[d];
    return offset;
  });
  return record(
      flip_info, std::move(out), {a},
      [&](const Tangent& ta) { return ta.map([&](const Tensor& t) { return flip(t, as_signed(f)); }); },
      [f](const Tensor& g) -> Grads { return {flip(g, as_signed(f))}; }, caller);
}

// torch.roll: C[i] = A[(i − shift) mod n] along each dim; without dims, over the flattened tensor.
static const OpInfo roll_info{"roll", "dC = roll(dA, shifts, dims)", "tC = roll(tA, shifts, dims)",
                              "gA = roll(gC, −shifts, dims)", Saves::nothing,
    "C = roll(A, shifts, dims)"};
Tensor roll(const Tensor& a, const std::vector<std::ptrdiff_t>& shifts, const std::vector<std::ptrdiff_t>& dims,
            const SourceLocation& caller) {
  check_defined_any_dtype("roll", a);
  if (dims.empty()) {
    if (shifts.size() != 1) {
      fail<ShapeError>("roll: without dims, one shift is expected, got {}", shifts.size());
    }
    const std::vector<std::ptrdiff_t> zero{0};
    return reshape(roll(reshape(a, {-1}, caller), shifts, zero, caller), a.shape(), caller);
  }
  if (shifts.size() != dims.size()) {
    fail<ShapeError>("roll: {} shifts for {} dims (they must pair up)", shifts.size(), dims.size());
  }
  const Shape& s = a.shape();
  std::vector<std::size_t> by(s.size(), 0);  // each dim's shift, mod its size
  for (std::size_t k = 0; k < dims.size(); ++k) {
    const std::size_t d = detail::wrap_dim("roll", dims[k], a.dim());
    if (a.dim() == 0 || s[d] == 0) continue;
    const auto n = static_cast<std::ptrdiff_t>(s[d]);
    by[d] = static_cast<std::size_t>(((shifts[k] % n + n) % n + static_cast<std::ptrdiff_t>(by[d])) % n);
  }
  const auto strides = strides_of(s);
  Tensor out = rearranged("roll", a, s, [&](const std::vector<std::size_t>& c) {
    std::size_t offset = 0;
    for (std::size_t d = 0; d < s.size(); ++d) offset += ((c[d] + s[d] - by[d]) % s[d]) * strides[d];
    return offset;
  });
  std::vector<std::ptrdiff_t> back(shifts.begin(), shifts.end());
  for (auto& v : back) v = -v;
  const std::vector<std::ptrdiff_t> along(dims.begin(), dims.end()), forward(shifts.begin(), shifts.end());
  return record(
      roll_info, std::move(out), {a},
      [&](const Tangent& ta) { return ta.map([&](const Tensor& t) { return roll(t, forward, along); }); },
      [back, along](const Tensor& g) -> Grads { return {roll(g, back, along)}; }, caller);
}

// The part on and above (triu) or on and below (tril) diagonal k of the last two dims; the rest 0.
static const OpInfo triu_info{"triu", "dC = triu(dA, k)", "tC = triu(tA, k)", "gA = triu(gC, k)", Saves::nothing,
    "C = triu(A, k)"};
static const OpInfo tril_info{"tril", "dC = tril(dA, k)", "tC = tril(tA, k)", "gA = tril(gC, k)", Saves::nothing,
    "C = tril(A, k)"};

static Tensor triangle(const OpInfo& info, const Tensor& a, std::ptrdiff_t k, bool upper, const SourceLocation& caller) {
  check_defined_any_dtype(info.name, a);
  if (a.dim() < 2) {
    fail<ShapeError>("{}: expects a tensor of rank >= 2, got shape {}", info.name, to_string(a.shape()));
  }
  const std::size_t rows = a.shape()[a.dim() - 2], cols = a.shape()[a.dim() - 1];
  Tensor out = a.visit_any_dtype([&](const auto& x) {
    using T = typename std::decay_t<decltype(x)>::value_type;
    Tensor y = detail::empty_tensor<T>(x.shape(), info.name);
    T* dst = detail::elements_of<T>(y);
    for (std::size_t e = 0; e < x.size(); ++e) {
      const auto j = static_cast<std::ptrdiff_t>(e % cols), i = static_cast<std::ptrdiff_t>((e / cols) % rows);
      const bool keep = upper ? j - i >= k : j - i <= k;
      dst[e] = keep ? x.data()[e] : T(0);
    }
    return y;
  });
  return record(
      info, std::move(out), {a},
      [&](const Tangent& ta) { return ta.map([&](const Tensor& t) { return triangle(info, t, k, upper, caller); }); },
      [&info, k, upper, caller](const Tensor& g) -> Grads { return {triangle(info, g, k, upper, caller)}; }, caller);
}

Tensor triu(const Tensor& a, std::ptrdiff_t diagonal, const SourceLocation& caller) {
  return triangle(triu_info, a, diagonal, true, caller);
}
Tensor tril(const Tensor& a, std::ptrdiff_t diagonal, const SourceLocation& caller) {
  return triangle(tril_info, a, diagonal, false, caller);
}

// torch's Tensor.repeat: a (with leading 1s up to repeats.size() dims) repeated repeats[d] times
// along each dim. C[c] = A[c mod shape];  gA = Σ over the copies of gC, as a reshape
// [r₀, s₀, r₁, s₁, ...] summed over the r dims.
static const OpInfo repeat_info{"repeat", "dC = repeat(dA)", "tC = repeat(tA)",
                                "gA = Σ_copies gC (the sum of gC over the copies of A)", Saves::nothing,
    "C = repeat(A, repeats)"};
Tensor repeat(const Tensor& a, const std::vector<std::size_t>& repeats, const SourceLocation& caller) {
  check_defined_any_dtype("repeat", a);
  if (repeats.size() < a.dim()) {
    fail<ShapeError>("repeat: {} repeats for a tensor of rank {} (shape {}); at least as many as its dims",
                     repeats.size(), a.dim(), to_string(a.shape()));
  }
  Shape padded(repeats.size() - a.dim(), 1);
  padded.insert(padded.end(), a.shape().begin(), a.shape().end());
  Shape out_shape(repeats.size());
  for (std::size_t d = 0; d < repeats.size(); ++d) out_shape[d] = padded[d] * repeats[d];
  detail::checked_numel("repeat", out_shape, 8);
  const auto strides = strides_of(padded);
  Tensor out = rearranged("repeat", a, out_shape, [&](const std::vector<std::size_t>& c) {
    std::size_t offset = 0;
    for (std::size_t d = 0; d < c.size(); ++d) offset += (c[d] % padded[d]) * strides[d];
    return offset;
  });
  const std::vector<std::size_t> r(repeats.begin(), repeats.end());
  return record(
      repeat_info, std::move(out), {a},
      [&](const Tangent& ta) { return ta.map([&](const Tensor& t) { return repeat(t, r); }); },
      [r, padded, shape = a.shape()](const Tensor& g) -> Grads {
        Shape split;
        for (std::size_t d = 0; d < r.size(); ++d) {
          split.push_back(r[d]);
          split.push_back(padded[d]);
        }
        Tensor total = reshape(g, split);
        for (std::size_t d = r.size(); d-- > 0;) total = sum(total, static_cast<std::ptrdiff_t>(2 * d));
        return {reshape(total, shape)};
      },
      caller);
}

static const ComposedOpInfo tile_composed{"tile", "C = repeat(A, reps), reps padded with leading 1s to A's rank"};
Tensor tile(const Tensor& a, const std::vector<std::size_t>& reps, const SourceLocation& caller) {
  check_defined_any_dtype("tile", a);
  std::vector<std::size_t> r(reps.size() < a.dim() ? a.dim() - reps.size() : 0, 1);
  r.insert(r.end(), reps.begin(), reps.end());
  return repeat(a, r, caller);
}

static const ComposedOpInfo expand_composed{"expand", "C = broadcast_to(A, sizes) (−1 keeps a dim's size)"};
Tensor expand(const Tensor& a, const std::vector<std::ptrdiff_t>& sizes, const SourceLocation& caller) {
  check_defined_any_dtype("expand", a);
  if (sizes.size() < a.dim()) {
    fail<ShapeError>("expand: {} sizes for a tensor of rank {} (shape {})", sizes.size(), a.dim(), to_string(a.shape()));
  }
  const std::size_t lead = sizes.size() - a.dim();
  Shape shape(sizes.size());
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] == -1 && d >= lead) {
      shape[d] = a.shape()[d - lead];
    } else if (sizes[d] < 0) {
      fail<ShapeError>("expand: size {} at dim {} (-1 keeps an existing dim only)", sizes[d], d);
    } else {
      shape[d] = static_cast<std::size_t>(sizes[d]);
    }
  }
  return broadcast_to(a, shape, caller);
}

static const ComposedOpInfo split_composed{"split", "Cₖ = slice(A, dim, start of piece k, its end) for each piece"};
std::vector<Tensor> split(const Tensor& a, const std::vector<std::size_t>& sizes, std::ptrdiff_t dim,
                          const SourceLocation& caller) {
  check_defined_any_dtype("split", a);
  const std::size_t d = normalize_dim("split", dim, a.dim());
  const std::size_t total = std::accumulate(sizes.begin(), sizes.end(), std::size_t{0});
  if (total != a.shape()[d]) {
    fail<ShapeError>("split: sizes add up to {} but dim {} has size {}", total, d, a.shape()[d]);
  }
  std::vector<Tensor> parts;
  std::size_t start = 0;
  for (const std::size_t n : sizes) {
    parts.push_back(slice(a, static_cast<std::ptrdiff_t>(d), start, start + n, 1, caller));
    start += n;
  }
  return parts;
}

std::vector<Tensor> split(const Tensor& a, std::size_t split_size, std::ptrdiff_t dim, const SourceLocation& caller) {
  check_defined_any_dtype("split", a);
  const std::size_t d = normalize_dim("split", dim, a.dim());
  const std::size_t n = a.shape()[d];
  if (split_size == 0 && n != 0) fail<ValueError>("split: split_size 0 for dim {} of size {}", d, n);
  std::vector<std::size_t> sizes;
  for (std::size_t start = 0; start < n; start += split_size) sizes.push_back(std::min(split_size, n - start));
  if (sizes.empty()) sizes.push_back(0);
  return split(a, sizes, dim, caller);
}

static const ComposedOpInfo chunk_composed{"chunk", "split(A, ⌈size / chunks⌉, dim)"};
std::vector<Tensor> chunk(const Tensor& a, std::size_t chunks, std::ptrdiff_t dim, const SourceLocation& caller) {
  check_defined_any_dtype("chunk", a);
  if (chunks == 0) fail<ValueError>("chunk: chunks must be positive, got 0");
  const std::size_t d = normalize_dim("chunk", dim, a.dim());
  const std::size_t n = a.shape()[d];
  return split(a, n == 0 ? 1 : (n + chunks - 1) / chunks, dim, caller);
}

static const ComposedOpInfo unbind_composed{"unbind", "Cₖ = squeeze(slice(A, dim, k, k + 1), dim) for each k"};
std::vector<Tensor> unbind(const Tensor& a, std::ptrdiff_t dim, const SourceLocation& caller) {
  check_defined_any_dtype("unbind", a);
  const std::size_t d = normalize_dim("unbind", dim, a.dim());
  std::vector<Tensor> parts;
  for (std::size_t i = 0; i < a.shape()[d]; ++i) {
    parts.push_back(squeeze(slice(a, static_cast<std::ptrdiff_t>(d), i, i + 1, 1, caller),
                            static_cast<std::ptrdiff_t>(d), caller));
  }
  return parts;
}

}  // namespace matgrad
