#include "psig/common/metrics.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace psig::common {
namespace {

void add_atomic(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string render_labels(const labels& l) {
  if (l.empty()) return {};
  std::string out = "{";
  for (const auto& [k, v] : l) {
    if (out.size() > 1) out += ',';
    out += k + "=\"" + escape_label(v) + "\"";
  }
  return out + "}";
}

// The shortest text that reads back exactly ("0.1", not "0.10000000000000001", which also made
// odd "le" labels), plain unless tiny or huge (as JavaScript prints numbers), the exposition
// format's spellings of non-finite values, and never a locale's decimal comma.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  const double magnitude = std::fabs(v);
  const auto format = magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e21)
                          ? std::chars_format::fixed
                          : std::chars_format::scientific;
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v, format).ptr);
}

}  // namespace

void gauge::add(double v) { add_atomic(value_, v); }

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  add_atomic(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const {
  snapshot s{bounds_, {}, sum_.load(), count_.load()};
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  return s;
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

metrics_registry::family& metrics_registry::family_for(const std::string& name, kind type,
                                                       const std::string& help) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  } else if (it->second.type != type) {
    throw std::logic_error("metric " + name + " registered with two types");
  }
  return it->second;
}

counter& metrics_registry::get_counter(const std::string& name, const std::string& help,
                                       const labels& l) {
  std::lock_guard lock(mutex_);
  auto& slot = family_for(name, kind::counter, help).counters[render_labels(l)];
  if (!slot) slot = std::make_unique<counter>();
  return *slot;
}

gauge& metrics_registry::get_gauge(const std::string& name, const std::string& help,
                                   const labels& l) {
  std::lock_guard lock(mutex_);
  auto& slot = family_for(name, kind::gauge, help).gauges[render_labels(l)];
  if (!slot) slot = std::make_unique<gauge>();
  return *slot;
}

histogram& metrics_registry::get_histogram(const std::string& name, const std::string& help,
                                           const labels& l, std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  auto& slot = family_for(name, kind::histogram, help).histograms[render_labels(l)];
  if (!slot) slot = std::make_unique<histogram>(std::move(bounds));
  return *slot;
}

void metrics_registry::on_collect(std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(fn));
}

std::string metrics_registry::render() {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c();

  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    static constexpr const char* type_names[] = {"counter", "gauge", "histogram"};
    out += "# HELP " + name + " " + fam.help + "\n";
    out += "# TYPE " + name + " " + type_names[static_cast<int>(fam.type)] + "\n";
    for (const auto& [l, c] : fam.counters) out += name + l + " " + std::to_string(c->value()) + "\n";
    for (const auto& [l, g] : fam.gauges) out += name + l + " " + number(g->value()) + "\n";
    for (const auto& [l, h] : fam.histograms) {
      const auto s = h->read();
      // The label block is re-opened to append "le": strip its closing brace.
      const std::string base = l.empty() ? std::string{} : l.substr(1, l.size() - 2);
      for (std::size_t i = 0; i <= s.bounds.size(); ++i) {
        const std::string le = i < s.bounds.size() ? number(s.bounds[i]) : "+Inf";
        out += name + "_bucket{" + base + (base.empty() ? "" : ",") + "le=\"" + le + "\"} " +
               std::to_string(s.cumulative[i]) + "\n";
      }
      out += name + "_sum" + l + " " + number(s.sum) + "\n";
      out += name + "_count" + l + " " + std::to_string(s.count) + "\n";
    }
  }
  return out;
}

}  // namespace psig::common
