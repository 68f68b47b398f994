#include "packet/outcome.hpp"

namespace etcpipe {

namespace {
constexpr std::array<std::string_view, kOutcomeCount> kNames = {
#define ETCPIPE_OUTCOME_NAME(e, s) s,
    ETCPIPE_OUTCOMES(ETCPIPE_OUTCOME_NAME)
#undef ETCPIPE_OUTCOME_NAME
};
}  // namespace

std::string_view outcome_name(Outcome o) {
  return kNames[static_cast<std::size_t>(o)];
}

}  // namespace etcpipe
