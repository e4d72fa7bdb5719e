// Helpers for testing error messages.
#pragma once

#include <doctest/doctest.h>

#include <initializer_list>
#include <string>

namespace matgrad::testing {

// Runs f, expecting an exception of type E, and returns its message ("(no exception)" if none).
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no exception)";
}

// Checks that f throws an E whose message holds every fragment.
template <class E, class F>
void check_error(F&& f, std::initializer_list<std::string> fragments) {
  const std::string message = error_of<E>(std::forward<F>(f));
  INFO(message);
  CHECK(message != "(no exception)");
  for (const auto& fragment : fragments) CHECK(message.find(fragment) != std::string::npos);
}

}  // namespace matgrad::testing
