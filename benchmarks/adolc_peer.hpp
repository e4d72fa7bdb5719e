// ADOL-C (Debian's libadolc-dev) as a peer for the per-op rows: operator-overloading taping
// followed by a reverse sweep, the cost a C++ user of that library pays per gradient.
#pragma once

#include <cstddef>

namespace bench::adolc_peer {

// Tapes the chain of `ops` ops alternating mul/add/tanh on one double, then runs the gradient
// on that tape; returns the derivative.
double tape_and_gradient(std::size_t ops);

}  // namespace bench::adolc_peer
