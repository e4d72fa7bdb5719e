// Jacobian and Hessian products and matrices: by forward mode (a dual level around f, or
// around f and its backward pass), or by one or two grad() calls each.
#include "matgrad/functional.hpp"

#include "forward.hpp"
#include "matgrad/autograd.hpp"
#include "matgrad/ops.hpp"

#include <algorithm>
#include <optional>
#include <string_view>

namespace matgrad {

namespace {

// Where f is evaluated (at) and what it is differentiated in (wrt).
struct Variables {
  std::vector<Tensor> at, wrt;
  std::vector<bool> own;  // at[k] was made here (not the caller's x[k]): it may take a tangent
};

// Without create_graph, or for an x that does not require grad: a fresh leaf, both. With
// create_graph and a leaf x that requires grad, x itself, so that the results are
// differentiable in x. With create_graph and an x that has a history, or is passed twice (each
// occurrence is differentiated separately): f is evaluated at x + (l − l.detach()) for a fresh
// leaf l and differentiated in l. That point has x's value (l − l.detach() is exactly 0 for
// finite values) and derivative I in both x and l, so the results are the derivatives in x and
// stay differentiable in x's history, while grad() only ever targets leaves.
Variables variables(std::string_view op, const std::vector<Tensor>& x, bool create_graph) {
  Variables v;
  for (std::size_t k = 0; k < x.size(); ++k) {
    if (!x[k].defined()) fail<ValueError>("{}: input {} is undefined", op, k);
    Tensor leaf = x[k].detach();
    leaf.requires_grad_(true);
    Tensor at = leaf;
    bool own = true;
    if (create_graph && x[k].requires_grad()) {
      const auto uses = std::count_if(x.begin(), x.end(),
                                      [&](const Tensor& e) { return e.impl() == x[k].impl(); });
      if (x[k].is_leaf() && uses == 1) {
        leaf = at = x[k];
        own = false;
      } else {
        at = x[k] + (leaf - leaf.detach());
      }
    }
    v.at.push_back(at);
    v.wrt.push_back(leaf);
    v.own.push_back(own);
  }
  return v;
}

// Without create_graph nothing returned may carry history or alias a caller's tensor.
Tensor finish(const Tensor& t, bool create_graph) { return create_graph ? t : t.detach().clone(); }

Tensor or_zeros(const Tensor& g, const Tensor& like) { return g.defined() ? g : zeros_like(like); }

void check_vector(std::string_view op, const Tensor& v, const Tensor& like, std::string_view what,
                  std::size_t k) {
  if (!v.defined()) fail<ValueError>("{}: v[{}] is undefined", op, k);
  if (v.shape() != like.shape()) {
    fail<ShapeError>("{}: v[{}] has shape {} but {} has shape {}", op, k, to_string(v.shape()),
                     what, to_string(like.shape()));
  }
  if (v.dtype() != like.dtype()) {
    fail<DTypeError>("{}: v[{}] has dtype {} but {} has dtype {}", op, k, dtype_name(v.dtype()),
                     what, dtype_name(like.dtype()));
  }
}

void check_scalar(std::string_view op, const Tensor& y) {
  if (y.numel() != 1) {
    fail<ShapeError>("{}: f must return one element, got shape {}", op, to_string(y.shape()));
  }
}

// The k-th standard basis tensor shaped like `like`.
Tensor basis(const Tensor& like, std::size_t k) {
  Tensor e = zeros_like(like);
  e.visit([&](const auto& data) {
    using T = typename std::decay_t<decltype(data)>::value_type;
    e.mutable_data<T>().data()[k] = T(1);
  });
  return e;
}

Shape joined(const Shape& a, const Shape& b) {
  Shape out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// ∂outputₖ[i…]/∂x[j…] for one output that is a function of the variables x, as one tensor per
// variable of shape output.shape ++ xⱼ.shape: one backward per element of output.
std::vector<Tensor> jacobian_of(const Tensor& output, const std::vector<Tensor>& x,
                                bool create_graph) {
  std::vector<Tensor> result(x.size());
  const std::size_t m = output.numel();
  if (m > 0 && output.requires_grad()) {
    std::vector<std::vector<Tensor>> rows(x.size());
    for (std::size_t i = 0; i < m; ++i) {
      const std::vector<Tensor> g =
          grad({output}, x, {basis(output, i)}, true, create_graph, true);
      for (std::size_t j = 0; j < x.size(); ++j) rows[j].push_back(or_zeros(g[j], x[j]));
    }
    for (std::size_t j = 0; j < x.size(); ++j) {
      result[j] = reshape(stack(rows[j], 0), joined(output.shape(), x[j].shape()));
    }
  }
  for (std::size_t j = 0; j < x.size(); ++j) {
    if (!result[j].defined()) {
      result[j] = zeros(joined(output.shape(), x[j].shape()), {.dtype = x[j].dtype()});
    }
    result[j] = finish(result[j], create_graph);
  }
  return result;
}

// The gradients among gs that carry history, with the matching vectors: Σ ⟨gₖ, vₖ⟩ over
// them is the scalar to differentiate (the others are constants and contribute nothing).
void with_history(const std::vector<Tensor>& gs, const std::vector<Tensor>& v,
                  std::vector<Tensor>& outputs, std::vector<Tensor>& seeds) {
  for (std::size_t k = 0; k < gs.size(); ++k) {
    if (gs[k].defined() && gs[k].requires_grad()) {
      outputs.push_back(gs[k]);
      seeds.push_back(v[k]);
    }
  }
}

std::vector<Tensor> one(const Tensor& t) { return {t}; }

TensorFunction on_first(const UnaryTensorFunction& f) {
  return [&f](const std::vector<Tensor>& x) { return f(x[0]); };
}

// ---- forward mode ----

// at[k] with tangent t[k] in the open level: attached to at[k] itself when it is ours,
// through make_dual (a copy) when it is the caller's.
std::vector<Tensor> duals(const std::vector<Tensor>& at, const std::vector<bool>& own,
                          const std::vector<Tensor>& t) {
  std::vector<Tensor> out;
  for (std::size_t k = 0; k < at.size(); ++k) {
    if (own[k]) {
      detail::attach_tangent(at[k], t[k]);
      out.push_back(at[k]);
    } else {
      out.push_back(make_dual(at[k], t[k]));
    }
  }
  return out;
}

// Where f is evaluated in forward mode alone: copies of x without grad (nothing to record), or
// with create_graph, the points of variables() (so that the tangents have x's history).
Variables forward_points(std::string_view op, const std::vector<Tensor>& x, bool create_graph) {
  if (create_graph) return variables(op, x, true);
  Variables v;
  for (std::size_t k = 0; k < x.size(); ++k) {
    if (!x[k].defined()) fail<ValueError>("{}: input {} is undefined", op, k);
    v.at.push_back(x[k].detach());
    v.own.push_back(true);
  }
  v.wrt = v.at;
  return v;
}

std::size_t total_numel(const std::vector<Tensor>& x) {
  std::size_t n = 0;
  for (const Tensor& t : x) n += t.numel();
  return n;
}

// Directions carried together in one pass of jacfwd and hessian; more run in chunks, each
// evaluating f again (memory grows with the directions carried).
constexpr std::size_t kMaxDirections = 256;

// The standard basis directions first, …, first + count − 1 of the inputs flattened one after
// another, as one batched tangent per input: [count] ++ x[k].shape, 1 where direction i is
// entry j of input k.
std::vector<Tensor> basis_directions(const std::vector<Tensor>& x, std::size_t first,
                                     std::size_t count) {
  std::vector<Tensor> t;
  std::size_t offset = 0;
  for (const Tensor& xk : x) {
    Shape shape{count};
    shape.insert(shape.end(), xk.shape().begin(), xk.shape().end());
    Tensor e = zeros(shape, {.dtype = xk.dtype()});
    const std::size_t n = xk.numel();
    e.visit([&](const auto& data) {
      using T = typename std::decay_t<decltype(data)>::value_type;
      T* p = e.mutable_data<T>().data();
      for (std::size_t i = 0; i < count; ++i) {
        const std::size_t d = first + i;
        if (d >= offset && d < offset + n) p[i * n + (d - offset)] = T(1);
      }
    });
    t.push_back(e);
    offset += n;
  }
  return t;
}

// The block of `tangents` ([n, m], direction by element) for the directions of input k, as
// the Jacobian of shape `rows` ++ x[k].shape: ∂(element)/∂xₖ[j].
Tensor jacobian_block(const Tensor& tangents, const std::vector<Tensor>& x, std::size_t k,
                      const Shape& rows) {
  std::size_t offset = 0;
  for (std::size_t j = 0; j < k; ++j) offset += x[j].numel();
  const Tensor block = slice(tangents, 0, offset, offset + x[k].numel());
  return reshape(t(block), joined(rows, x[k].shape()));
}

ProductResult jvp_forward(const TensorFunction& f, const std::vector<Tensor>& x,
                          const std::vector<Tensor>& v, bool create_graph) {
  AutoGradMode enabled(true);
  const Variables vars = forward_points("jvp", x, create_graph);
  if (v.size() != x.size()) fail<ValueError>("jvp: {} vectors for {} inputs", v.size(), x.size());
  for (std::size_t k = 0; k < x.size(); ++k) check_vector("jvp", v[k], x[k], "x", k);
  const detail::ForwardLevel level({.batch = 0, .record_tangents = create_graph}, "jvp");
  const Tensor y = f(duals(vars.at, vars.own, v));
  return {finish(y, create_graph), finish(or_zeros(detail::tangent_or_none(y), y), create_graph)};
}

// The tangents of f(x) along the basis directions, all n of them, as [n, m] (direction by
// element of f(x)); y_shape gets f(x)'s shape.
Tensor forward_jacobian_rows(const TensorFunction& f, const std::vector<Tensor>& x,
                             bool create_graph, Shape& y_shape) {
  const Variables vars = forward_points("jacfwd", x, create_graph);
  const std::size_t n = total_numel(x);
  if (n == 0) {
    const Tensor y = f(vars.at);
    y_shape = y.shape();
    return zeros({0, y.numel()}, {.dtype = y.dtype()});
  }
  std::vector<Tensor> chunks;
  for (std::size_t first = 0; first < n; first += kMaxDirections) {
    const std::size_t count = std::min(kMaxDirections, n - first);
    const detail::ForwardLevel level({.batch = count, .record_tangents = create_graph}, "jacfwd");
    const Tensor y = f(duals(vars.at, vars.own, basis_directions(x, first, count)));
    y_shape = y.shape();
    const Tensor tangent = detail::tangent_or_none(y);
    const Shape rows{count, y.numel()};
    chunks.push_back(tangent.defined() ? reshape(tangent, rows) : zeros(rows, {.dtype = y.dtype()}));
  }
  return chunks.size() == 1 ? chunks[0] : concat(chunks, 0);
}

std::vector<Tensor> jacobian_forward(const TensorFunction& f, const std::vector<Tensor>& x,
                                     bool create_graph) {
  AutoGradMode enabled(true);
  Shape y_shape;
  const Tensor rows = forward_jacobian_rows(f, x, create_graph, y_shape);
  std::vector<Tensor> result;
  for (std::size_t k = 0; k < x.size(); ++k) {
    result.push_back(finish(jacobian_block(rows, x, k, y_shape), create_graph));
  }
  return result;
}

// Forward over reverse: the tangent v pushed through f and through the backward of f's
// gradient (create_graph or not, the VJPs' own ops carry tangents), so that the gradient's
// tangent is d(∇f)[v] = H v.
ProductResults hvp_forward(const TensorFunction& f, const std::vector<Tensor>& x,
                           const std::vector<Tensor>& v, bool create_graph) {
  AutoGradMode enabled(true);
  const Variables vars = variables("hvp", x, create_graph);
  const std::vector<Tensor>& xs = vars.wrt;
  if (v.size() != xs.size()) fail<ValueError>("hvp: {} vectors for {} inputs", v.size(), xs.size());
  for (std::size_t k = 0; k < xs.size(); ++k) check_vector("hvp", v[k], xs[k], "x", k);
  const detail::ForwardLevel level({.batch = 0, .record_tangents = create_graph}, "hvp");
  const Tensor y = f(duals(vars.at, vars.own, v));
  check_scalar("hvp", y);
  ProductResults result{finish(y, create_graph), {}};
  std::vector<Tensor> g(xs.size());
  if (y.requires_grad()) g = grad({y}, xs, {}, false, create_graph, true);
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const Tensor hv = g[k].defined() ? detail::tangent_or_none(g[k]) : Tensor();
    result.products.push_back(finish(or_zeros(hv, xs[k]), create_graph));
  }
  return result;
}

// Forward over reverse with all n basis directions side by side: one forward and one backward
// whose gradient's tangents are the Hessian's rows.
std::vector<std::vector<Tensor>> hessian_forward(const TensorFunction& f,
                                                 const std::vector<Tensor>& x, bool create_graph) {
  AutoGradMode enabled(true);
  const Variables vars = variables("hessian", x, create_graph);
  const std::vector<Tensor>& xs = vars.wrt;
  const std::size_t n = total_numel(x);
  // chunks[k]: [directions, numel(xₖ)], the tangents of ∂f/∂xₖ along each direction.
  std::vector<std::vector<Tensor>> chunks(xs.size());
  auto add_rows = [&](std::size_t count, const std::vector<Tensor>& g) {
    for (std::size_t k = 0; k < xs.size(); ++k) {
      const Shape rows{count, xs[k].numel()};
      const Tensor tangent = g[k].defined() ? detail::tangent_or_none(g[k]) : Tensor();
      chunks[k].push_back(tangent.defined() ? reshape(tangent, rows) : zeros(rows, {.dtype = xs[k].dtype()}));
    }
  };
  if (n == 0) {
    check_scalar("hessian", f(vars.at));
    add_rows(0, std::vector<Tensor>(xs.size()));
  }
  for (std::size_t first = 0; first < n; first += kMaxDirections) {
    const std::size_t count = std::min(kMaxDirections, n - first);
    const detail::ForwardLevel level({.batch = count, .record_tangents = create_graph}, "hessian");
    const Tensor y = f(duals(vars.at, vars.own, basis_directions(x, first, count)));
    check_scalar("hessian", y);
    std::vector<Tensor> g(xs.size());
    if (y.requires_grad()) g = grad({y}, xs, {}, false, create_graph, true);
    add_rows(count, g);
  }
  std::vector<std::vector<Tensor>> h(xs.size());
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const Tensor rows = chunks[k].size() == 1 ? chunks[k][0] : concat(chunks[k], 0);
    for (std::size_t j = 0; j < xs.size(); ++j) {
      h[k].push_back(finish(jacobian_block(rows, x, j, xs[k].shape()), create_graph));
    }
  }
  return h;
}

ProductResults vjp_impl(const TensorFunction& f, const std::vector<Tensor>& x, const Tensor& v,
                   bool create_graph) {
  AutoGradMode enabled(true);
  const Variables vars = variables("vjp", x, create_graph);
  const std::vector<Tensor>& xs = vars.wrt;
  const Tensor y = f(vars.at);
  check_vector("vjp", v, y, "f(x)", 0);
  ProductResults result{finish(y, create_graph), {}};
  std::vector<Tensor> g(xs.size());
  if (y.requires_grad()) g = grad({y}, xs, {v}, false, create_graph, true);
  for (std::size_t k = 0; k < xs.size(); ++k) {
    result.products.push_back(finish(or_zeros(g[k], xs[k]), create_graph));
  }
  return result;
}

// g(u) = Jᵀ u for a dummy cotangent u (its value is irrelevant: g is linear in it), then
// J v = ∂⟨g(u), v⟩/∂u. Needs every VJP on the path to be recorded as a function of gC.
ProductResult jvp_double_vjp(const TensorFunction& f, const std::vector<Tensor>& x,
                             const std::vector<Tensor>& v, bool create_graph) {
  AutoGradMode enabled(true);
  const Variables vars = variables("jvp", x, create_graph);
  const std::vector<Tensor>& xs = vars.wrt;
  if (v.size() != xs.size()) {
    fail<ValueError>("jvp: {} vectors for {} inputs", v.size(), xs.size());
  }
  for (std::size_t k = 0; k < xs.size(); ++k) check_vector("jvp", v[k], xs[k], "x", k);
  const Tensor y = f(vars.at);
  ProductResult result{finish(y, create_graph), Tensor()};
  if (y.requires_grad()) {
    Tensor u = zeros_like(y);
    u.requires_grad_(true);
    const std::vector<Tensor> g = grad({y}, xs, {u}, false, true, true);
    std::vector<Tensor> outputs, seeds;
    with_history(g, v, outputs, seeds);
    if (!outputs.empty()) result.product = grad(outputs, {u}, seeds, false, create_graph, true)[0];
  }
  result.product = finish(or_zeros(result.product, y), create_graph);
  return result;
}

// H v = ∂⟨∇f(x), v⟩/∂x: the first gradient recorded (create_graph), then its VJP with v.
ProductResults hvp_reverse(const TensorFunction& f, const std::vector<Tensor>& x,
                           const std::vector<Tensor>& v, bool create_graph) {
  AutoGradMode enabled(true);
  const Variables vars = variables("hvp", x, create_graph);
  const std::vector<Tensor>& xs = vars.wrt;
  if (v.size() != xs.size()) {
    fail<ValueError>("hvp: {} vectors for {} inputs", v.size(), xs.size());
  }
  for (std::size_t k = 0; k < xs.size(); ++k) check_vector("hvp", v[k], xs[k], "x", k);
  const Tensor y = f(vars.at);
  check_scalar("hvp", y);
  ProductResults result{finish(y, create_graph), {}};
  std::vector<Tensor> hv(xs.size());
  if (y.requires_grad()) {
    const std::vector<Tensor> g = grad({y}, xs, {}, false, true, true);
    std::vector<Tensor> outputs, seeds;
    with_history(g, v, outputs, seeds);
    if (!outputs.empty()) hv = grad(outputs, xs, seeds, false, create_graph, true);
  }
  for (std::size_t k = 0; k < xs.size(); ++k) {
    result.products.push_back(finish(or_zeros(hv[k], xs[k]), create_graph));
  }
  return result;
}

std::vector<Tensor> jacobian_reverse(const TensorFunction& f, const std::vector<Tensor>& x,
                                     bool create_graph) {
  AutoGradMode enabled(true);
  const Variables vars = variables("jacobian", x, create_graph);
  const std::vector<Tensor>& xs = vars.wrt;
  return jacobian_of(f(vars.at), xs, create_graph);
}

// The gradient with create_graph, then the Jacobian of each of its parts.
std::vector<std::vector<Tensor>> hessian_reverse(const TensorFunction& f,
                                                 const std::vector<Tensor>& x, bool create_graph) {
  AutoGradMode enabled(true);
  const Variables vars = variables("hessian", x, create_graph);
  const std::vector<Tensor>& xs = vars.wrt;
  const Tensor y = f(vars.at);
  check_scalar("hessian", y);
  std::vector<Tensor> g(xs.size());
  if (y.requires_grad()) g = grad({y}, xs, {}, false, true, true);
  std::vector<std::vector<Tensor>> h;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    h.push_back(jacobian_of(or_zeros(g[k], xs[k]), xs, create_graph));
  }
  return h;
}

}  // namespace

ProductResults vjp(const TensorFunction& f, const std::vector<Tensor>& x, const Tensor& v,
                   bool create_graph) {
  return vjp_impl(f, x, v, create_graph);
}

ProductResult jvp(const TensorFunction& f, const std::vector<Tensor>& x,
                  const std::vector<Tensor>& v, bool create_graph, Strategy strategy) {
  return strategy == Strategy::forward_mode ? jvp_forward(f, x, v, create_graph)
                                            : jvp_double_vjp(f, x, v, create_graph);
}

ProductResults hvp(const TensorFunction& f, const std::vector<Tensor>& x,
                   const std::vector<Tensor>& v, bool create_graph, Strategy outer) {
  return outer == Strategy::forward_mode ? hvp_forward(f, x, v, create_graph)
                                         : hvp_reverse(f, x, v, create_graph);
}

std::vector<Tensor> jacobian(const TensorFunction& f, const std::vector<Tensor>& x,
                             bool create_graph, Strategy strategy) {
  return strategy == Strategy::forward_mode ? jacobian_forward(f, x, create_graph)
                                            : jacobian_reverse(f, x, create_graph);
}

std::vector<Tensor> jacfwd(const TensorFunction& f, const std::vector<Tensor>& x,
                           bool create_graph) {
  return jacobian_forward(f, x, create_graph);
}

std::vector<std::vector<Tensor>> hessian(const TensorFunction& f, const std::vector<Tensor>& x,
                                         bool create_graph, Strategy outer) {
  return outer == Strategy::forward_mode ? hessian_forward(f, x, create_graph)
                                         : hessian_reverse(f, x, create_graph);
}

Linearization linearize(const UnaryTensorFunction& f, const Tensor& x) {
  AutoGradMode enabled(true);
  const Variables vars = variables("linearize", {x}, false);
  const Tensor y = f(vars.at[0]);
  Linearization result{y.detach(), {}};
  Tensor g, u;
  if (y.requires_grad()) {
    u = zeros_like(y);
    u.requires_grad_(true);
    g = grad({y}, vars.wrt, {u}, false, true, true)[0];  // Jᵀ u, recorded
  }
  result.jvp = [g, u, x0 = vars.wrt[0].detach(), like = result.output](const Tensor& v) {
    check_vector("linearize", v, x0, "x", 0);
    AutoGradMode on(true);
    Tensor jv;
    if (g.defined() && g.requires_grad()) jv = grad({g}, {u}, {v}, true, false, true)[0];
    return or_zeros(jv, like).detach();
  };
  return result;
}

ProductResult vjp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v,
                  bool create_graph) {
  ProductResults r = vjp(on_first(f), one(x), v, create_graph);
  return {r.output, r.products[0]};
}

ProductResult jvp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v,
                  bool create_graph, Strategy strategy) {
  return jvp(on_first(f), one(x), one(v), create_graph, strategy);
}

ProductResult hvp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v,
                  bool create_graph, Strategy outer) {
  ProductResults r = hvp(on_first(f), one(x), one(v), create_graph, outer);
  return {r.output, r.products[0]};
}

Tensor jacobian(const UnaryTensorFunction& f, const Tensor& x, bool create_graph,
                Strategy strategy) {
  return jacobian(on_first(f), one(x), create_graph, strategy)[0];
}

Tensor jacfwd(const UnaryTensorFunction& f, const Tensor& x, bool create_graph) {
  return jacfwd(on_first(f), one(x), create_graph)[0];
}

Tensor hessian(const UnaryTensorFunction& f, const Tensor& x, bool create_graph, Strategy outer) {
  return hessian(on_first(f), one(x), create_graph, outer)[0][0];
}

}  // namespace matgrad
