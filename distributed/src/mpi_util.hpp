// What the collectives and the reducer share: MPI error checks, counts and datatypes, and the
// check that every rank passes the same thing. Private to matgrad::distributed.
#pragma once

#include "matgrad/distributed.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace matgrad::distributed::detail {

// Raises a DistributedError naming `call` and MPI's message.
void check_mpi(int code, std::string_view call);
// n as an MPI count, or an error naming op.
int mpi_count(std::size_t n, std::string_view op);

template <class T>
MPI_Datatype mpi_type() {
  return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
}

// Every rank's string, in rank order (collective).
std::vector<std::string> gather_strings(const std::string& mine, MPI_Comm comm);
// Collective: returns when every rank passed the same description; otherwise raises, on every
// rank, a DistributedError listing each rank's.
void check_same_everywhere(std::string_view op, const std::string& description, MPI_Comm comm);
std::string describe(const Tensor& t);  // "float32 [3, 4]"

}  // namespace matgrad::distributed::detail
