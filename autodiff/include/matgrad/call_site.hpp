// The user's call site of each recorded op, for errors raised later in backward.
#pragma once

namespace matgrad {

// Where a call was made: file, line and function, filled in at the caller by default
// arguments like std::source_location (built on the same compiler builtins, which clang 14
// also has, so the library builds with clang for fuzzing).
// Not an aggregate: `caller` follows integer arguments, and a braced {0} meant for one of them
// (tensordot(a, b, {1}, {0})) must not silently become a location and pick another overload.
struct SourceLocation {
  const char* file = "";
  unsigned line = 0;
  const char* function = "";

  constexpr SourceLocation() noexcept = default;
  constexpr explicit SourceLocation(const char* file, unsigned line, const char* function) noexcept
      : file(file), line(line), function(function) {}

  static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                          unsigned line = __builtin_LINE(),
                                          const char* function = __builtin_FUNCTION()) noexcept {
    return SourceLocation(file, line, function);
  }
};

namespace detail {

// Every public op takes `caller = SourceLocation::current()` and hands it to record() (ops
// composed of others pass it on). The engine opens a CallSite at a record's line while it runs
// that record's VJP (or JVP): the records made meanwhile (a create_graph pass, ops composed of
// others) take the line of the outermost CallSite instead of their own.
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
