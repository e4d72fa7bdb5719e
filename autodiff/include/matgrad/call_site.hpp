// The user's call site of each recorded op, for errors raised later in backward.
#pragma once

namespace matgrad {

// Where a call was made: file, line and function, filled in at the caller by default
// arguments like std::source_location (built on the same compiler builtins, which clang 14
// also has, so the library builds with clang for fuzzing).
struct SourceLocation {
  const char* file = "";
  unsigned line = 0;
  const char* function = "";

  static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                          unsigned line = __builtin_LINE(),
                                          const char* function = __builtin_FUNCTION()) noexcept {
    return {file, line, function};
  }
};

namespace detail {

// Every public op takes `where = SourceLocation::current()` and opens a CallSite: the
// outermost one on the thread wins, so the records of composed ops (mean = sum / n) and of
// the ops inside a VJP all point at the user's line.
class CallSite {
 public:
  explicit CallSite(const SourceLocation& where) : outermost_(current_ == nullptr) {
    if (outermost_) current_ = &where;
  }
  ~CallSite() {
    if (outermost_) current_ = nullptr;
  }
  CallSite(const CallSite&) = delete;
  CallSite& operator=(const CallSite&) = delete;

  static const SourceLocation* current() { return current_; }

 private:
  bool outermost_;
  static inline thread_local const SourceLocation* current_ = nullptr;
};

}  // namespace detail
}  // namespace matgrad
