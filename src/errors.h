// Argument errors raised by the core, so that the binding can map them to
// TypeError / RangeError. Anything else LibTorch throws stays a c10::Error.
#pragma once

#include <stdexcept>
#include <string>

namespace pairloss {

class ArgumentError : public std::invalid_argument {
 public:
  enum class Kind { Type, Range };
  ArgumentError(Kind kind, const std::string& message)
      : std::invalid_argument(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

[[noreturn]] inline void throw_type_error(const std::string& message) {
  throw ArgumentError(ArgumentError::Kind::Type, message);
}
[[noreturn]] inline void throw_range_error(const std::string& message) {
  throw ArgumentError(ArgumentError::Kind::Range, message);
}

// TORCH_CHECK's shape for the core's own checks: a RangeError with a short
// message unless `cond` holds. The core checks only what keeps its kernels
// inside their memory; lib/ checks the arguments users pass, in their words.
#define PAIRLOSS_CHECK(cond, message)                          \
  do {                                                         \
    if (!(cond)) ::pairloss::throw_range_error(message);       \
  } while (false)

}  // namespace pairloss
