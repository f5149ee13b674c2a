#include "psig/common/metrics.hpp"

#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace psig::common {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Metrics, CounterRendersHelpTypeAndValue) {
  metrics_registry r;
  counter& c = r.get_counter("psig_events_total", "Events accepted.");
  c.inc();
  c.inc(2);
  EXPECT_EQ(c.value(), 3U);
  EXPECT_EQ(r.render(),
            "# HELP psig_events_total Events accepted.\n"
            "# TYPE psig_events_total counter\n"
            "psig_events_total 3\n");
}

TEST(Metrics, LabelsInGivenOrderAndEscaped) {
  metrics_registry r;
  r.get_counter("psig_http_requests_total", "Requests.", {{"route", "/v1"}, {"status", "200"}})
      .inc();
  r.get_counter("psig_http_requests_total", "Requests.", {{"route", "/v1"}, {"status", "404"}})
      .inc(4);
  r.get_counter("psig_odd_total", "Odd.", {{"v", "a\"b\\c\nd"}}).inc();
  const std::string text = r.render();
  EXPECT_TRUE(contains(text, "psig_http_requests_total{route=\"/v1\",status=\"200\"} 1\n")) << text;
  EXPECT_TRUE(contains(text, "psig_http_requests_total{route=\"/v1\",status=\"404\"} 4\n")) << text;
  EXPECT_TRUE(contains(text, "psig_odd_total{v=\"a\\\"b\\\\c\\nd\"} 1\n")) << text;
  // One HELP/TYPE pair per family, however many series it has.
  EXPECT_EQ(text.find("# TYPE psig_http_requests_total"),
            text.rfind("# TYPE psig_http_requests_total"));
}

TEST(Metrics, SameNameAndLabelsIsTheSameObject) {
  metrics_registry r;
  counter& a = r.get_counter("c_total", "C.", {{"k", "v"}});
  counter& b = r.get_counter("c_total", "C.", {{"k", "v"}});
  counter& other = r.get_counter("c_total", "C.", {{"k", "w"}});
  counter& unlabelled = r.get_counter("c_total", "C.");
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  EXPECT_NE(&a, &unlabelled);
  EXPECT_EQ(&r.get_gauge("g", "G."), &r.get_gauge("g", "G."));
  EXPECT_EQ(&r.get_histogram("h", "H."), &r.get_histogram("h", "H."));
}

TEST(Metrics, OneNameCannotHaveTwoTypes) {
  metrics_registry r;
  r.get_counter("m", "M.");
  EXPECT_THROW(r.get_gauge("m", "M."), std::logic_error);
  EXPECT_THROW(r.get_histogram("m", "M."), std::logic_error);
}

TEST(Metrics, GaugeValues) {
  metrics_registry r;
  gauge& g = r.get_gauge("psig_connections", "Open connections.", {{"kind", "ws"}});
  g.set(2);
  g.add(1.5);
  g.add(-0.5);
  EXPECT_DOUBLE_EQ(g.value(), 3.0);
  EXPECT_EQ(r.render(),
            "# HELP psig_connections Open connections.\n"
            "# TYPE psig_connections gauge\n"
            "psig_connections{kind=\"ws\"} 3\n");
}

TEST(Metrics, NumbersUseShortestAndPrometheusSpellings) {
  metrics_registry r;
  r.get_gauge("a", "A.").set(0.1);
  r.get_gauge("b", "B.").set(-2.5);
  r.get_gauge("c", "C.").set(std::numeric_limits<double>::infinity());
  r.get_gauge("d", "D.").set(-std::numeric_limits<double>::infinity());
  r.get_gauge("e", "E.").set(std::numeric_limits<double>::quiet_NaN());
  r.get_gauge("f", "F.").set(1e21);
  r.get_gauge("g", "G.").set(1234567.5);
  r.get_gauge("h", "H.").set(1e-7);
  r.get_gauge("i", "I.").set(0.0005);
  const std::string text = r.render();
  EXPECT_TRUE(contains(text, "\na 0.1\n")) << text;
  EXPECT_TRUE(contains(text, "\nb -2.5\n")) << text;
  EXPECT_TRUE(contains(text, "\nc +Inf\n")) << text;
  EXPECT_TRUE(contains(text, "\nd -Inf\n")) << text;
  EXPECT_TRUE(contains(text, "\ne NaN\n")) << text;
  EXPECT_TRUE(contains(text, "\nf 1e+21\n")) << text;
  EXPECT_TRUE(contains(text, "\ng 1234567.5\n")) << text;
  EXPECT_TRUE(contains(text, "\nh 1e-07\n")) << text;
  EXPECT_TRUE(contains(text, "\ni 0.0005\n")) << text;
}

TEST(Metrics, HistogramCumulativeBucketsSumAndCount) {
  metrics_registry r;
  histogram& h =
      r.get_histogram("psig_latency_seconds", "Latency.", {{"route", "/x"}}, {0.5, 1, 5});
  for (double v : {0.25, 0.5, 1.0, 8.0}) h.observe(v);  // a bound is inclusive ("le")
  const auto s = h.read();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{2, 3, 3, 4}));
  EXPECT_DOUBLE_EQ(s.sum, 9.75);
  EXPECT_EQ(s.count, 4U);
  EXPECT_EQ(r.render(),
            "# HELP psig_latency_seconds Latency.\n"
            "# TYPE psig_latency_seconds histogram\n"
            "psig_latency_seconds_bucket{route=\"/x\",le=\"0.5\"} 2\n"
            "psig_latency_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"
            "psig_latency_seconds_bucket{route=\"/x\",le=\"5\"} 3\n"
            "psig_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
            "psig_latency_seconds_sum{route=\"/x\"} 9.75\n"
            "psig_latency_seconds_count{route=\"/x\"} 4\n");
}

TEST(Metrics, HistogramWithoutLabels) {
  metrics_registry r;
  r.get_histogram("h", "H.", {}, {1}).observe(3);
  EXPECT_EQ(r.render(),
            "# HELP h H.\n"
            "# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 0\n"
            "h_bucket{le=\"+Inf\"} 1\n"
            "h_sum 3\n"
            "h_count 1\n");
}

TEST(Metrics, DefaultLatencyBuckets) {
  const auto bounds = latency_buckets();
  ASSERT_FALSE(bounds.empty());
  EXPECT_DOUBLE_EQ(bounds.front(), 0.0005);
  EXPECT_DOUBLE_EQ(bounds.back(), 10);
  for (std::size_t i = 1; i < bounds.size(); ++i) EXPECT_LT(bounds[i - 1], bounds[i]);

  metrics_registry r;
  r.get_histogram("h", "H.").observe(0.003);
  const std::string text = r.render();
  EXPECT_TRUE(contains(text, "h_bucket{le=\"0.0005\"} 0\n")) << text;
  EXPECT_TRUE(contains(text, "h_bucket{le=\"0.005\"} 1\n")) << text;
  EXPECT_TRUE(contains(text, "h_bucket{le=\"+Inf\"} 1\n")) << text;
}

TEST(Metrics, FamiliesRenderSortedByName) {
  metrics_registry r;
  r.get_counter("zeta_total", "Z.");
  r.get_counter("alpha_total", "A.");
  const std::string text = r.render();
  EXPECT_LT(text.find("alpha_total"), text.find("zeta_total"));
}

TEST(Metrics, CollectorsRunBeforeRender) {
  metrics_registry r;
  int runs = 0;
  r.on_collect([&] {
    ++runs;
    r.get_gauge("pool_size", "Pool size.").set(runs * 10);
    // Registering from a collector must not deadlock: collectors run outside the lock.
    r.get_counter("collected_total", "Made by a collector.").inc();
  });
  EXPECT_EQ(runs, 0);
  std::string text = r.render();
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(contains(text, "\npool_size 10\n")) << text;
  EXPECT_TRUE(contains(text, "\ncollected_total 1\n")) << text;
  text = r.render();
  EXPECT_TRUE(contains(text, "\npool_size 20\n")) << text;
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  metrics_registry r;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        r.get_counter("n_total", "N.").inc();
        r.get_gauge("g", "G.").add(1);
        r.get_histogram("h", "H.", {}, {1}).observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(r.get_counter("n_total", "N.").value(), 4000U);
  EXPECT_DOUBLE_EQ(r.get_gauge("g", "G.").value(), 4000);
  EXPECT_EQ(r.get_histogram("h", "H.").read().count, 4000U);
}

}  // namespace
}  // namespace psig::common
