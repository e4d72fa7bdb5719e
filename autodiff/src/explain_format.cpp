// explain()'s four formats: Unicode text, Markdown with LaTeX, a LaTeX fragment and a
// self-contained HTML page (KaTeX inlined, the chain-rule tree as SVG from Graphviz).
#include "matgrad/explain.hpp"

#include "matgrad/error.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>

namespace matgrad {

namespace {

std::string check_text(const ExplainCheck& c) {
  if (!c.checked) return fmt::format("‖G‖ = {:.4e}   (not checked: {})", c.grad_norm, c.note);
  return fmt::format("‖G‖ = {:.4e}   ⟨G, D⟩ = {:.10e}   finite difference = {:.10e}   {}{}", c.grad_norm,
                     c.predicted, c.numeric, c.passed ? "pass" : "FAIL", c.note.empty() ? "" : "   (" + c.note + ")");
}

std::string symbols_text(const ExplainStep& s) {
  std::vector<std::string> parts;
  for (const auto& sym : s.symbols) parts.push_back(fmt::format("{} {} {}", sym.name, to_string(sym.shape), sym.role));
  return fmt::format("{}", fmt::join(parts, ", "));
}

// One UTF-8 code point of s at i, advancing i.
std::string next_char(std::string_view s, std::size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  std::string out(s.substr(i, n));
  i += n;
  return out;
}

}  // namespace

// Unicode math as LaTeX: G_W1 → G_{W1}, ᵀ → ^{\top}, ⊙ → \odot, words in roman.
std::string explain_latex(std::string_view u) {
  static const std::pair<std::string_view, std::string_view> symbols[] = {
      {"⊙", "\\odot "}, {"⊘", "\\oslash "}, {"−", "-"}, {"σ", "\\sigma "}, {"Σ", "\\sum "}, {"β", "\\beta "},
      {"‖", "\\|"}, {"√", "\\sqrt "}, {"≤", "\\le "}, {"≥", "\\ge "}, {"ℓ", "\\ell "}, {"⟨", "\\langle "},
      {"⟩", "\\rangle "}, {"…", "\\dots "}, {"∅", "\\emptyset "}, {"÷", "\\div "}, {"·", "\\cdot "},
      {"#", "\\#"}, {"_", "\\_"}, {"{", "\\{"}, {"}", "\\}"}, {"%", "\\%"}, {"&", "\\&"}, {"$", "\\$"}};
  static const std::pair<std::string_view, std::string_view> scripts[] = {
      {"ᵀ", "\\top "}, {"⁻", "-"}, {"¹", "1"}, {"²", "2"}, {"³", "3"}, {"⁰", "0"}, {"⁴", "4"}, {"⁵", "5"},
      {"⁶", "6"}, {"⁷", "7"}, {"⁸", "8"}, {"⁹", "9"}, {"⁽", "("}, {"⁾", ")"}};
  static const std::pair<std::string_view, std::string_view> subscripts[] = {
      {"ᵢ", "i"}, {"ⱼ", "j"}, {"ₖ", "k"}, {"₀", "0"}, {"₁", "1"}, {"₂", "2"}, {"₃", "3"}, {"₄", "4"},
      {"₅", "5"}, {"₆", "6"}, {"₇", "7"}, {"₈", "8"}, {"₉", "9"}};
  auto lookup = [](const auto& table, const std::string& c) -> const std::string_view* {
    for (const auto& [from, to] : table) {
      if (from == c) return &to;
    }
    return nullptr;
  };
  std::string out;
  std::size_t i = 0;
  while (i < u.size()) {
    const std::size_t start = i;
    std::string c = next_char(u, i);
    if (std::isalpha(static_cast<unsigned char>(c[0])) && c.size() == 1) {
      std::string word = c;
      while (i < u.size() && (std::isalnum(static_cast<unsigned char>(u[i])) || u[i] == '_' || u[i] == '#')) word += u[i++];
      auto escaped = [](std::string_view w) {
        std::string e;
        for (char ch : w) e += ch == '_' ? std::string("\\_") : ch == '#' ? std::string("\\#") : std::string(1, ch);
        return e;
      };
      const bool differential = word.size() > 1 && word[0] == 'd' &&
                                (std::isupper(static_cast<unsigned char>(word[1])) || word[1] == '#' ||
                                 word.find_first_of("0123456789") != std::string::npos);
      if (differential) {
        out += "\\mathrm{d}" + escaped(word.substr(1));
      } else if (word.rfind("G_", 0) == 0 && word.size() > 2) {
        out += "G_{" + escaped(word.substr(2)) + "}";
      } else if (word.size() > 1 && std::islower(static_cast<unsigned char>(word[0])) && std::islower(static_cast<unsigned char>(word[1]))) {
        out += "\\operatorname{" + escaped(word) + "}";
      } else {
        out += escaped(word);
      }
      continue;
    }
    // A run of superscripts or subscripts as one ^{…} or _{…}.
    bool scripted = false;
    using Table = std::span<const std::pair<std::string_view, std::string_view>>;
    for (const auto& [table, mark] : {std::pair{Table(scripts), "^{"}, std::pair{Table(subscripts), "_{"}}) {
      const auto* s = lookup(table, c);
      if (!s) continue;
      std::string run(*s);
      while (i < u.size()) {
        std::size_t j = i;
        const auto* more = lookup(table, next_char(u, j));
        if (!more) break;
        run += *more;
        i = j;
      }
      out += mark + run + "}";
      scripted = true;
      break;
    }
    if (scripted) continue;
    if (const auto* s = lookup(symbols, c)) {
      out += *s;
      continue;
    }
    if (c == " ") {
      // A space between two factors is a product: a thin space, which TeX would drop.
      const unsigned char last = out.empty() ? ' ' : static_cast<unsigned char>(out.back());
      const unsigned char next = i < u.size() ? static_cast<unsigned char>(u[i]) : ' ';
      const bool factor_before = std::isalnum(last) || last == ')' || last == '}' || last == ']';
      const bool factor_after = std::isalnum(next) || next == '(' || next == '[' || next >= 0x80;
      const bool operator_after = u.substr(i, 3) == "⊙" || u.substr(i, 3) == "⊘" || u.substr(i, 3) == "−" ||
                                  u.substr(i, 3) == "≤" || u.substr(i, 3) == "≥";
      out += factor_before && factor_after && !operator_after ? "\\, " : " ";
      continue;
    }
    out += std::string(u.substr(start, i - start));
  }
  for (auto at = out.find("  "); at != std::string::npos; at = out.find("  ", at)) out.erase(at, 1);
  return out;
}

std::string Explanation::text() const {
  std::string out = fmt::format("{}explain: {}, {} steps, {} finite-difference checks: {}\n",
                                title.empty() ? "" : title + "\n", loss, steps.size(), checks,
                                checks == 0 ? "none run" : passed ? "all passed" : "SOME FAILED");
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const ExplainStep& s = steps[k];
    out += fmt::format("\nstep {}: {}   ({})\n", k + 1, s.result, s.ops);
    out += "  " + s.equation + "\n  " + s.differential + "\n";
    for (const auto& a : s.adjoints) out += "  " + a + "\n";
    for (const auto& n : s.notes) out += "  · " + n + "\n";
    out += "  shapes: " + symbols_text(s) + "\n";
    out += "  " + check_text(s.check) + "\n";
  }
  if (!parameters.empty()) out += "\nparameters, by substitution through the steps\n";
  for (const auto& p : parameters) {
    out += fmt::format("  {}   {}\n    {}\n", p.closed_form, to_string(p.shape), check_text(p.check));
  }
  return out;
}

std::string Explanation::markdown() const {
  std::string out = fmt::format("## {}\n\n", title.empty() ? "explain" : title);
  out += fmt::format("${}$: {} steps, {} finite-difference checks, {}.\n", explain_latex(loss), steps.size(), checks,
                     checks == 0 ? "none run" : passed ? "all passed" : "**some failed**");
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const ExplainStep& s = steps[k];
    out += fmt::format("\n### Step {}: ${}$ ({})\n\n$$\n\\begin{{aligned}}\n", k + 1, explain_latex(s.result), s.ops);
    out += explain_latex(s.equation) + " \\\\\n" + explain_latex(s.differential);
    for (const auto& a : s.adjoints) out += " \\\\\n" + explain_latex(a);
    out += "\n\\end{aligned}\n$$\n\n";
    for (const auto& n : s.notes) out += "- " + n + "\n";
    out += fmt::format("- shapes: {}\n- {}\n", symbols_text(s), check_text(s.check));
  }
  if (!parameters.empty()) out += "\n### Parameters, by substitution through the steps\n\n";
  for (const auto& p : parameters) {
    out += fmt::format("$$\n{}\n$$\n\n{}, {}\n\n", explain_latex(p.closed_form), to_string(p.shape), check_text(p.check));
  }
  return out;
}

std::string Explanation::latex() const {
  std::string out = fmt::format("% explain(): {}, {} steps\n", loss, steps.size());
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const ExplainStep& s = steps[k];
    out += fmt::format("\\paragraph{{Step {}: ${}$}}\n\\begin{{align*}}\n", k + 1, explain_latex(s.result));
    out += explain_latex(s.equation) + " \\\\\n" + explain_latex(s.differential);
    for (const auto& a : s.adjoints) out += " \\\\\n" + explain_latex(a);
    out += "\n\\end{align*}\n";
  }
  if (!parameters.empty()) out += "\\paragraph{Parameters}\n\\begin{align*}\n";
  for (std::size_t k = 0; k < parameters.size(); ++k) {
    out += explain_latex(parameters[k].closed_form) + (k + 1 < parameters.size() ? " \\\\\n" : "\n");
  }
  if (!parameters.empty()) out += "\\end{align*}\n";
  return out;
}

namespace {

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail<Error>("explain: cannot read {} (install Debian's libjs-katex, or set HtmlOptions::katex_dir)", path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Graphviz's SVG of the tree, or empty when dot is not installed.
std::string svg_of(const std::string& dot) {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) return {};
  const auto dir = std::filesystem::temp_directory_path();
  const auto in = dir / fmt::format("matgrad-explain-{}.dot", static_cast<const void*>(&dot));
  const auto out = dir / fmt::format("matgrad-explain-{}.svg", static_cast<const void*>(&dot));
  std::ofstream(in) << dot;
  const int status = std::system(fmt::format("dot -Tsvg '{}' -o '{}' 2>/dev/null", in.string(), out.string()).c_str());
  std::string svg;
  if (status == 0) svg = read_file(out);
  std::filesystem::remove(in);
  std::filesystem::remove(out);
  const auto start = svg.find("<svg");
  return start == std::string::npos ? std::string() : svg.substr(start);
}

std::string math(const std::string& unicode, bool display = true) {
  return fmt::format("<span class=\"mg-math{}\" data-tex=\"{}\">{}</span>", display ? " display" : "",
                     html_escape(explain_latex(unicode)), html_escape(unicode));
}

}  // namespace

std::string Explanation::html(const HtmlOptions& options) const {
  const std::filesystem::path katex = options.katex_dir;
  std::string css = read_file(katex / "katex.min.css");
  const std::string js = read_file(katex / "katex.min.js");
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += fmt::format("<title>{}</title>\n<style>\n{}\n</style>\n", html_escape(title.empty() ? "explain" : title), css);
  out += R"(<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
.layout { display: flex; gap: 2em; align-items: flex-start; }
.steps { flex: 1 1 60%; } .graph { flex: 1 1 40%; position: sticky; top: 1em; }
.graph svg { max-width: 100%; height: auto; }
.step { border-left: 3px solid #cfe2ff; padding: 0.2em 1em; margin: 1em 0; }
.step:target { border-left-color: #0d6efd; background: #f5f9ff; }
.numbers { font-family: monospace; font-size: 0.85em; color: #444; }
.pass { color: #137333; } .fail { color: #b00020; font-weight: bold; }
.note { color: #555; font-size: 0.9em; }
</style>
</head>
<body>
)";
  out += fmt::format("<h1>{}</h1>\n<p>{}: {} steps, {} finite-difference checks, <span class=\"{}\">{}</span>.</p>\n",
                     html_escape(title.empty() ? "explain" : title), math(loss, false), steps.size(), checks,
                     passed ? "pass" : "fail", checks == 0 ? "none run" : passed ? "all passed" : "some failed");
  out += "<div class=\"layout\">\n<div class=\"steps\">\n";
  auto numbers = [](const ExplainCheck& c) {
    return fmt::format("<p class=\"numbers\"><span class=\"{}\">{}</span></p>\n",
                       !c.checked ? "note" : c.passed ? "pass" : "fail", html_escape(check_text(c)));
  };
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const ExplainStep& s = steps[k];
    out += fmt::format("<section class=\"step\" id=\"{}\">\n<h3>Step {}: {} <small>({})</small></h3>\n", s.anchor, k + 1,
                       math(s.result, false), html_escape(s.ops));
    out += math(s.equation) + math(s.differential);
    for (const auto& a : s.adjoints) out += math(a);
    for (const auto& n : s.notes) out += "<p class=\"note\">" + html_escape(n) + "</p>\n";
    out += "<p class=\"note\">shapes: " + html_escape(symbols_text(s)) + "</p>\n" + numbers(s.check) + "</section>\n";
  }
  if (!parameters.empty()) out += "<h2>Parameters, by substitution through the steps</h2>\n";
  for (const auto& p : parameters) {
    out += fmt::format("<section class=\"step\" id=\"{}\">\n{}<p class=\"note\">{}</p>\n{}</section>\n", p.anchor,
                       math(p.closed_form), to_string(p.shape), numbers(p.check));
  }
  out += "</div>\n";
  if (options.graph) {
    const std::string svg = svg_of(dot);
    if (!svg.empty()) out += "<div class=\"graph\">\n<h2>The chain-rule tree</h2>\n" + svg + "</div>\n";
  }
  out += "</div>\n<script>\n" + js + "\n</script>\n";
  out += R"(<script>
for (const el of document.querySelectorAll(".mg-math")) {
  katex.render(el.dataset.tex, el, {displayMode: el.classList.contains('display'), throwOnError: false});
  el.classList.add('rendered');
}
</script>
</body>
</html>
)";
  return out;
}

void write_html(const Explanation& explanation, const std::string& path, const HtmlOptions& options) {
  const std::filesystem::path page = path;
  const std::filesystem::path dir = page.has_parent_path() ? page.parent_path() : std::filesystem::path(".");
  std::filesystem::create_directories(dir);
  const std::filesystem::path fonts = std::filesystem::path(options.katex_dir) / "fonts";
  if (std::filesystem::exists(fonts)) {
    std::filesystem::copy(fonts, dir / "fonts",
                          std::filesystem::copy_options::recursive | std::filesystem::copy_options::update_existing);
  }
  std::ofstream out(page, std::ios::binary);
  if (!out) fail<Error>("write_html: cannot write {}", path);
  out << explanation.html(options);
}

}  // namespace matgrad
