// The ADOL-C peer: kept in its own translation unit, so that ADOL-C's headers (which define
// operators on doubles) meet nothing of matgrad's.
#include "adolc_peer.hpp"

#include <adolc/adolc.h>

namespace bench::adolc_peer {

double tape_and_gradient(std::size_t ops) {
  constexpr short tag = 1;
  double x0 = 0.5, y0 = 0, g = 0;
  trace_on(tag);
  {
    adouble x, y;
    x <<= x0;
    y = x;
    for (std::size_t i = 0; i < ops; ++i) {
      switch (i % 3) {
        case 0: y = y * 0.999; break;
        case 1: y = y + 0.001; break;
        default: y = tanh(y); break;
      }
    }
    y >>= y0;
  }
  trace_off();
  gradient(tag, 1, &x0, &g);
  return g;
}

}  // namespace bench::adolc_peer
