#pragma once
// A small Prometheus registry: counters, gauges and histograms keyed by name and a label set,
// rendered in the text exposition format. Lookups take a mutex; updates are atomic.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace psig::common {

using labels = std::vector<std::pair<std::string, std::string>>;

class counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class histogram {
 public:
  explicit histogram(std::vector<double> bounds);
  void observe(double v);
  // Cumulative counts per bound (then +Inf), the sum and the count, read consistently enough
  // for a scrape (each field is atomic on its own).
  struct snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;
    double sum = 0;
    std::uint64_t count = 0;
  };
  snapshot read() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // one more than bounds_ (+Inf)
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

// Seconds: 0.5 ms .. 10 s.
std::vector<double> latency_buckets();

class metrics_registry {
 public:
  counter& get_counter(const std::string& name, const std::string& help, const labels& l = {});
  gauge& get_gauge(const std::string& name, const std::string& help, const labels& l = {});
  histogram& get_histogram(const std::string& name, const std::string& help, const labels& l = {},
                           std::vector<double> bounds = latency_buckets());
  // Runs before each render, e.g. to copy a pool's counts into gauges.
  void on_collect(std::function<void()> fn);
  std::string render();

 private:
  enum class kind { counter, gauge, histogram };
  struct family {
    kind type;
    std::string help;
    std::map<std::string, std::unique_ptr<counter>> counters;  // key: rendered labels
    std::map<std::string, std::unique_ptr<gauge>> gauges;
    std::map<std::string, std::unique_ptr<histogram>> histograms;
  };
  family& family_for(const std::string& name, kind type, const std::string& help);

  std::mutex mutex_;
  std::map<std::string, family> families_;
  std::vector<std::function<void()>> collectors_;
};

}  // namespace psig::common
