// Jacobian and Hessian products and matrices, as one or two grad() calls each.
#include "matgrad/functional.hpp"

#include "matgrad/autograd.hpp"
#include "matgrad/ops.hpp"

#include <algorithm>
#include <string_view>

namespace matgrad {

namespace {

// Where f is evaluated (at) and what it is differentiated in (wrt).
struct Variables {
  std::vector<Tensor> at, wrt;
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
    if (create_graph && x[k].requires_grad()) {
      const auto uses = std::count_if(x.begin(), x.end(),
                                      [&](const Tensor& e) { return e.impl() == x[k].impl(); });
      if (x[k].is_leaf() && uses == 1) {
        leaf = at = x[k];
      } else {
        at = x[k] + (leaf - leaf.detach());
      }
    }
    v.at.push_back(at);
    v.wrt.push_back(leaf);
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

}  // namespace

ProductResults vjp(const TensorFunction& f, const std::vector<Tensor>& x, const Tensor& v,
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
ProductResult jvp(const TensorFunction& f, const std::vector<Tensor>& x,
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
ProductResults hvp(const TensorFunction& f, const std::vector<Tensor>& x,
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

std::vector<Tensor> jacobian(const TensorFunction& f, const std::vector<Tensor>& x,
                             bool create_graph) {
  AutoGradMode enabled(true);
  const Variables vars = variables("jacobian", x, create_graph);
  const std::vector<Tensor>& xs = vars.wrt;
  return jacobian_of(f(vars.at), xs, create_graph);
}

// The gradient with create_graph, then the Jacobian of each of its parts.
std::vector<std::vector<Tensor>> hessian(const TensorFunction& f, const std::vector<Tensor>& x,
                                         bool create_graph) {
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

ProductResult vjp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v,
                  bool create_graph) {
  ProductResults r = vjp(on_first(f), one(x), v, create_graph);
  return {r.output, r.products[0]};
}

ProductResult jvp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v,
                  bool create_graph) {
  return jvp(on_first(f), one(x), one(v), create_graph);
}

ProductResult hvp(const UnaryTensorFunction& f, const Tensor& x, const Tensor& v,
                  bool create_graph) {
  ProductResults r = hvp(on_first(f), one(x), one(v), create_graph);
  return {r.output, r.products[0]};
}

Tensor jacobian(const UnaryTensorFunction& f, const Tensor& x, bool create_graph) {
  return jacobian(on_first(f), one(x), create_graph)[0];
}

Tensor hessian(const UnaryTensorFunction& f, const Tensor& x, bool create_graph) {
  return hessian(on_first(f), one(x), create_graph)[0][0];
}

}  // namespace matgrad
