// The run statistics as Prometheus text (--metrics).
#include <gtest/gtest.h>

#include "pipeline/run_stats.hpp"

namespace etcpipe {
namespace {

TEST(Prometheus, FlowsWithoutAFeatureRowAreCounted) {
  RunStats s;
  s.features.rows_full = 7;
  const std::string text = format_prometheus(s);
  EXPECT_NE(text.find("# TYPE etcpipe_flows_without_feature_row_total counter\n"),
            std::string::npos);
  EXPECT_NE(text.find("\netcpipe_flows_without_feature_row_total 7\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace etcpipe
