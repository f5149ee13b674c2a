#pragma once
// A latency histogram in microseconds with ~3 % relative error (log buckets of 32 steps per
// power of two), cheap to record from one thread and to merge across threads.
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace psig::bench {

class histogram {
 public:
  void record(std::int64_t micros) {
    const auto v = static_cast<std::uint64_t>(std::max<std::int64_t>(0, micros));
    ++counts_[index(v)];
    ++total_;
    max_ = std::max(max_, v);
  }
  void merge(const histogram& o) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
  }
  std::uint64_t count() const { return total_; }
  // The value at quantile q (0-1), in microseconds: the upper bound of its bucket.
  std::uint64_t quantile(double q) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(upper(i), max_);
    }
    return max_;
  }
  std::uint64_t max() const { return max_; }

  // {"p50_ms", "p90_ms", "p99_ms", "max_ms"} for RESULT lines.
  nlohmann::json summary_ms() const {
    auto ms = [](std::uint64_t us) { return static_cast<double>(us) / 1000.0; };
    return {{"p50_ms", ms(quantile(0.50))}, {"p90_ms", ms(quantile(0.90))},
            {"p99_ms", ms(quantile(0.99))}, {"max_ms", ms(max_)}, {"samples", total_}};
  }

 private:
  static constexpr int sub_bits = 5;  // 32 buckets per power of two
  static std::size_t index(std::uint64_t v) {
    if (v < (1u << sub_bits)) return static_cast<std::size_t>(v);
    const int msb = 63 - std::countl_zero(v);
    const int shift = msb - sub_bits;
    const auto sub = (v >> shift) & ((1u << sub_bits) - 1);
    return static_cast<std::size_t>((shift + 1) << sub_bits) + static_cast<std::size_t>(sub);
  }
  static std::uint64_t upper(std::size_t i) {
    if (i < (1u << sub_bits)) return i;
    const auto shift = (i >> sub_bits) - 1;
    const auto sub = i & ((1u << sub_bits) - 1);
    return (((1ull << sub_bits) | sub) + 1) << shift;
  }
  std::array<std::uint64_t, 64 << sub_bits> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace psig::bench
