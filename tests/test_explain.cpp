// explain(): the notes' network against the tutorial's § 4, a logistic regression, fan-out and
// broadcasting, every op of the op table, the formats, and OpInfo's constructor.
#include "op_table.hpp"

#include <matgrad/explain.hpp>

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <type_traits>

using namespace matgrad;

namespace {

const TensorOptions f64{.dtype = DType::float64};

std::string normalise(const std::string& s) {
  return std::regex_replace(std::regex_replace(s, std::regex("\\s+"), " "), std::regex("^ | $"), "");
}

// Every adjoint line of the explanation, by its left-hand side.
std::map<std::string, std::string> adjoints_of(const Explanation& e) {
  std::map<std::string, std::string> out;
  for (const auto& s : e.steps) {
    for (const auto& a : s.adjoints) out[a.substr(0, a.find(" = "))] = normalise(a);
  }
  return out;
}

bool all_ran_checks_passed(const Explanation& e) {
  bool ok = true;
  for (const auto& s : e.steps) ok = ok && (!s.check.checked || s.check.passed);
  for (const auto& p : e.parameters) ok = ok && (!p.check.checked || p.check.passed);
  return ok && e.passed;
}

struct Notes {
  Tensor x, y, w1, b1, w2, b2, n;
  explicit Notes(std::size_t samples = 5) {
    Generator gen(4);
    x = randn({2, samples}, gen, f64);
    y = rand({1, samples}, gen, f64);
    w1 = randn({3, 2}, gen, f64).requires_grad_();
    b1 = randn({3, 1}, gen, f64).requires_grad_();
    w2 = randn({1, 3}, gen, f64).requires_grad_();
    b2 = randn({1, 1}, gen, f64).requires_grad_();
    n = tensor(static_cast<double>(samples), f64);
  }
  Tensor forward() const {
    Tensor z1 = (matmul(w1, x) + b1).set_name("Z1");
    Tensor a1 = sigmoid(z1).set_name("A1");
    Tensor z2 = (matmul(w2, a1) + b2).set_name("Z2");
    Tensor a2 = sigmoid(z2).set_name("A2");
    return (sum(square(a2 - y)) / n).set_name("C");
  }
  Explanation explain_it() const {
    return explain(forward(), {.names = {{"W1", w1}, {"b1", b1}, {"W2", w2}, {"b2", b2}, {"X", x}, {"Y", y}, {"N", n}},
                               .program = [this] { return forward(); }});
  }
};

// The adjoint equations of docs/matrix-calculus.md § 4: the G_… = … pieces of its code block.
std::map<std::string, std::string> tutorial_adjoints() {
  std::ifstream in(MATGRAD_SOURCE_DIR "/docs/matrix-calculus.md");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const auto section = doc.find("## 4.");
  const auto block = doc.find("goes back one layer at a time:", section);
  REQUIRE(block != std::string::npos);
  const auto end = doc.find("\n\n", doc.find("\n\n", block) + 2);
  std::map<std::string, std::string> out;
  std::istringstream lines(doc.substr(block, end - block));
  std::string line;
  const std::regex piece("(G_\\w+) = (.*?)(?=,   |\\s{3,}|$)");
  while (std::getline(lines, line)) {
    for (std::sregex_iterator it(line.begin(), line.end(), piece), stop; it != stop; ++it) {
      out[(*it)[1]] = normalise((*it)[0]);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("explain writes the notes' adjoint equations exactly as the tutorial's § 4 does") {
  const Notes notes;
  const Explanation e = notes.explain_it();
  const auto generated = adjoints_of(e);
  const auto tutorial = tutorial_adjoints();
  for (const char* g : {"G_A2", "G_Z2", "G_W2", "G_b2", "G_A1", "G_Z1", "G_W1", "G_b1"}) {
    INFO(g);
    REQUIRE(tutorial.count(g));
    REQUIRE(generated.count(g));
    CHECK(generated.at(g) == tutorial.at(g));
  }
  INFO(e.text());
  CHECK(e.steps.size() == 5);  // C, A2, Z2, A1, Z1
  CHECK(e.steps[4].equation == "Z1 = W1 X + b1");
  CHECK(e.steps[4].differential == "dZ1 = dW1 X + db1 1ᵀ");
  CHECK(e.checks == 9);  // five results, four parameters
  CHECK(all_ran_checks_passed(e));
  std::map<std::string, std::string> closed;
  for (const auto& p : e.parameters) closed[p.name] = p.closed_form;
  CHECK(closed.at("W1") ==
        "G_W1 = ((W2ᵀ ((2/N) (A2 − Y) ⊙ A2 ⊙ (1 − A2))) ⊙ A1 ⊙ (1 − A1)) Xᵀ");
}

TEST_CASE("explain marks constants, states shapes and leaves .grad() alone") {
  const Notes notes;
  const Explanation e = notes.explain_it();
  const ExplainStep& z1 = e.steps[4];
  CHECK(std::find(z1.notes.begin(), z1.notes.end(), "X is a constant: dX = 0") != z1.notes.end());
  bool shape_of_w1 = false;
  for (const auto& s : z1.symbols) shape_of_w1 = shape_of_w1 || (s.name == "W1" && s.shape == Shape{3, 2} && s.role == "parameter");
  CHECK(shape_of_w1);
  CHECK_FALSE(notes.w1.grad().defined());
}

TEST_CASE("a failing check is reported: a program that computes something else") {
  const Notes notes;
  Tensor c = notes.forward();
  const Explanation e = explain(c, {.names = {{"W1", notes.w1}}, .program = [&] { return notes.forward() * 1.5; }});
  CHECK_FALSE(e.passed);
  CHECK(e.text().find("FAIL") != std::string::npos);
}

TEST_CASE("an unnamed result read twice is checked, found by its place among the re-run's records") {
  // T = 2X is read by a square whose VJP forgets the 2, and by the sum: G_T is wrong, and only
  // T's own check can show it (X's check fails too, but for all it says the error may be in
  // the ×2). T has no name to be found by in the re-run.
  static const OpInfo wrong{"wrong_square", "dC = 2 A ⊙ dA", "", "gA = gC ⊙ A", Saves::inputs, "C = A ⊙ A"};
  auto wrong_square = [](const Tensor& a) {
    return record(wrong, a.detach() * a.detach(), {a}, [a](const Tensor& g) -> Grads { return {g * a}; });
  };
  Generator gen(5);
  const Tensor x = randn({2, 3}, gen, f64).requires_grad_();
  auto program = [&] {
    const Tensor t = x * 2.0;
    return (wrong_square(t) + t).set_name("Y");
  };
  auto right = [&] {
    const Tensor t = x * 2.0;
    return (t * t + t).set_name("Y");
  };
  for (const bool is_wrong : {true, false}) {
    const Tensor y = is_wrong ? program() : right();
    const Explanation e = explain(y, {.names = {{"X", x}}, .program = is_wrong ? std::function<Tensor()>(program) : right});
    INFO(e.text());
    const auto t = std::find_if(e.steps.begin(), e.steps.end(), [](const ExplainStep& s) { return s.result.starts_with('#'); });
    REQUIRE(t != e.steps.end());
    CHECK(t->check.checked);
    CHECK(t->check.passed == !is_wrong);
    CHECK(e.passed == !is_wrong);
  }
}

TEST_CASE("a result that eigh or cholesky reads as symmetric is checked along a symmetric direction") {
  // Their gradients, as torch's, are those of the symmetric part: along a random D the central
  // difference sees only the triangle LAPACK reads.
  Generator gen(8);
  const Tensor b = randn({3, 3}, gen, f64);
  const Tensor a = (matmul(b, transpose(b, 0, 1)) + eye(3, f64) * 3.0).detach().requires_grad_();
  auto program = [&] { return sum(cholesky(a)).set_name("Y"); };
  const Explanation e = explain(program(), {.names = {{"A", a}}, .program = program});
  INFO(e.text());
  REQUIRE(e.parameters.size() == 1);
  CHECK(e.parameters[0].check.checked);
  CHECK(e.parameters[0].check.passed);
  CHECK(e.parameters[0].check.note == "D symmetric: cholesky reads it as symmetric");
}

TEST_CASE("explain a logistic regression") {
  Generator gen(7);
  Tensor x = randn({8, 3}, gen, f64), y = rand({8}, gen, f64);
  Tensor w = randn({3}, gen, f64).requires_grad_();
  auto program = [&] {
    Tensor z = matmul(x, w).set_name("z");
    return binary_cross_entropy_with_logits(z, y).set_name("L");
  };
  const Explanation e = explain(program(), {.names = {{"w", w}, {"X", x}, {"y", y}}, .program = program});
  INFO(e.text());
  CHECK(e.checks == 3);
  CHECK(all_ran_checks_passed(e));
  REQUIRE(e.parameters.size() == 1);
  CHECK(e.parameters[0].name == "w");
}

TEST_CASE("fan-out is a sum of contributions, broadcasting the sum it causes") {
  Generator gen(9);
  Tensor x = randn({4, 6}, gen, f64);
  Tensor w = randn({3, 4}, gen, f64).requires_grad_(), b = randn({3, 1}, gen, f64).requires_grad_();
  auto program = [&] {
    Tensor h = tanh(matmul(w, x) + b).set_name("H");
    return sum(h * h + h).set_name("L");  // H read along two paths (three uses)
  };
  const Explanation e = explain(program(), {.names = {{"W", w}, {"b", b}, {"X", x}}, .program = program});
  INFO(e.text());
  CHECK(all_ran_checks_passed(e));
  CHECK(e.checks == 4);
  const std::string text = e.text();
  CHECK(text.find("G_H = G_H⁽¹⁾ + G_H⁽²⁾ + G_H⁽³⁾") != std::string::npos);
  CHECK(text.find("b [3, 1] is broadcast to [3, 6]") != std::string::npos);
  CHECK(text.find("G_b = (G_H ⊙ (1 − H²)) 1") != std::string::npos);
}

TEST_CASE("every op of the op table has its templates, and explain checks a small graph of each") {
  // A missing forward equation in any OpInfo of matgrad's own ops is a failure.
  for (const OpInfo* op : registered_ops()) {
    if (std::string(op->defined_at.file).find("autodiff/src/") == std::string::npos) continue;
    INFO(op->name);
    CHECK_FALSE(op->equation.empty());
  }
  Generator gen(31);
  std::size_t explained = 0, checks = 0, unchecked = 0;
  for (const testing::OpRow& row : testing::op_table()) {
    INFO(row.op);
    std::vector<Tensor> inputs;
    NamedTensors names;
    for (const Shape& s : row.shapes.front()) {
      inputs.push_back(testing::draw_input(s, row.domain, gen));
      names.emplace_back(fmt::format("X{}", names.size()), inputs.back());
    }
    auto program = [&] { return row.f(inputs).set_name("Y"); };
    const Tensor out = program();
    if (!out.requires_grad()) continue;
    // The float32 round trip of "to" rounds X + εD for a random D (gradcheck's unit steps on
    // its 1/1024 grid are exact): a relative error of about 2⁻²⁴ |X| / ε remains.
    const bool float32_trip = row.domain == testing::Domain::float32_grid;
    const Explanation e = explain(out, {.names = names, .program = program, .seed = randn(out.shape(), gen, f64),
                                        .eps = float32_trip ? row.eps : 0, .rtol = float32_trip ? 1e-3 : 0});
    INFO(e.text());
    CHECK(all_ran_checks_passed(e));
    CHECK(e.steps.front().check.checked);
    for (const auto& p : e.parameters) CHECK(p.check.checked);
    for (const auto& s : e.steps) {
      for (const auto& n : s.notes) CHECK(n.find("template missing") == std::string::npos);
    }
    // Every step with a gradient and elements is checked, the unnamed ones (#k) too.
    for (const auto& s : e.steps) {
      if (s.check.checked) continue;
      INFO(s.result, ": ", s.check.note);
      CHECK((s.check.note == "no gradient reaches it" || s.check.note == "no elements"));
      ++unchecked;
    }
    checks += e.checks;
    ++explained;
  }
  CHECK(explained == testing::op_table().size());
  MESSAGE(fmt::format("{} rows explained, {} finite-difference checks, {} steps without elements or gradient",
                      explained, checks, unchecked));
}

TEST_CASE("a differential's definitions are substituted, and a remark goes but a last factor stays") {
  Generator gen(12);
  const Tensor a = randn({3, 4}, gen, f64).requires_grad_(), b = randn({3, 4}, gen, f64).requires_grad_();
  auto adjoints = [&](const Tensor& y) { return adjoints_of(explain(y, {.names = {{"A", a}, {"B", b}}})); };
  // maximum: "dC = Wa ⊙ dA + Wb ⊙ dB, Wa = [A > B] + ½[A = B], Wb = …"
  const auto m = adjoints(maximum(a, b).set_name("M"));
  CHECK(m.at("G_A") == "G_A = G_M ⊙ ([A > B] + ½ [A = B])");
  CHECK(m.at("G_B") == "G_B = G_M ⊙ ([B > A] + ½ [A = B])");
  // softmax's VJP ends in a parenthesis that is a factor, not a remark.
  CHECK(adjoints(softmax(a, 1).set_name("P")).at("G_A") == "G_A = P ⊙ (G_P − Σ_dim(G_P ⊙ P))");
  // pow: "gA = gC ⊙ p A^(p−1) (0 for p = 0)" loses its remark.
  CHECK(adjoints(pow(a, 3.0).set_name("Q")).at("G_A").find("for") == std::string::npos);
  // The to_dot labels read the same parts.
  CHECK(to_dot(softmax(a, 1), {.vjp_labels = true}).find("gC − Σ_dim(gC ⊙ C)") != std::string::npos);
}

TEST_CASE("a deep chain is cut into steps of a few records, and its closed form stays short") {
  // One step of 200 inlined records wrote a differential of O(200²) symbols (7.7 s, 460 MB).
  const Tensor x = full({3}, 0.5, f64).requires_grad_();
  auto program = [&] {
    Tensor y = x;
    for (int i = 0; i < 100; ++i) y = tanh(y) * 0.999;
    return sum(y);
  };
  const Explanation e = explain(program(), {.names = {{"x", x}}, .program = program});
  CHECK(e.steps.size() >= 201 / 8);
  for (const ExplainStep& step : e.steps) {
    CHECK(std::count(step.ops.begin(), step.ops.end(), ',') < 8);
    CHECK(step.differential.size() < 2000);
  }
  REQUIRE(e.parameters.size() == 1);
  CHECK(e.parameters[0].closed_form.find("closed form of") == std::string::npos);
  CHECK(e.parameters[0].closed_form.size() < 4000);
  CHECK(e.checks >= 1);
  CHECK(e.passed);
}

TEST_CASE("the formats: Markdown, LaTeX and HTML carry the same equations") {
  const Explanation e = Notes().explain_it();
  const std::string md = e.markdown(), tex = e.latex();
  CHECK(md.find("G_{W1} = G_{Z1}\\, X^{\\top }") != std::string::npos);
  CHECK(tex.find("\\begin{align*}") != std::string::npos);
  CHECK(tex.find("G_{b1} = G_{Z1}\\, 1") != std::string::npos);
  CHECK(tex.find("\\mathrm{d}Z1 = \\mathrm{d}W1\\, X + \\mathrm{d}b1\\, 1^{\\top }") != std::string::npos);
  CHECK(explain_latex("G_A2 ⊙ A2 ⊙ (1 − A2)") == "G_{A2} \\odot A2 \\odot (1 - A2)");
  const std::string html = e.html();
  CHECK(html.find("katex.render") != std::string::npos);
  CHECK(html.find("id=\"step-Z1\"") != std::string::npos);
  if (std::system("command -v dot >/dev/null 2>&1") == 0) {
    CHECK(html.find("<svg") != std::string::npos);
    CHECK(html.find("#step-Z1") != std::string::npos);  // graph nodes link to their steps
  }
  // Nothing is loaded from elsewhere: KaTeX is inlined.
  CHECK(html.find("<script src") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
}

TEST_CASE("explain refuses a released graph, and OpInfo refuses a VJP in the JVP's place") {
  const Notes notes;
  Tensor c = notes.forward();
  c.backward();
  CHECK_THROWS_AS(explain(c), AutogradError);
  static_assert(!std::is_constructible_v<OpInfo, const char*, const char*, const char*>);
  static_assert(!std::is_constructible_v<OpInfo, const char*, const char*, const char*, Saves>);
  static_assert(std::is_constructible_v<OpInfo, const char*, const char*, const char*, const char*>);
  static_assert(std::is_constructible_v<OpInfo, const char*, const char*, const char*, const char*, Saves, const char*>);
}
