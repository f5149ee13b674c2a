#pragma once
// `--name value` command-line options with defaults; an unknown or malformed option stops the
// tool with a message naming it.
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <string>

namespace psig::bench {

class options {
 public:
  options(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0 || i + 1 >= argc) fail("expected --name value, got " + a);
      values_[a.substr(2)] = argv[++i];
    }
  }
  std::string str(const std::string& name, const std::string& fallback) {
    used_.insert(name);
    const auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }
  long long num(const std::string& name, long long fallback) {
    const auto s = str(name, "");
    if (s.empty()) return fallback;
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (*end != '\0' || v < 0) fail("--" + name + ": expected a non-negative integer");
    return v;
  }
  // Every given option must have been read by the mode.
  void check_all_used() const {
    for (const auto& [k, v] : values_) {
      if (used_.count(k) == 0) fail("--" + k + ": unknown option for this mode");
    }
  }
  [[noreturn]] static void fail(const std::string& why) {
    std::cerr << "psig-bench: " << why << "\n";
    std::exit(2);
  }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> used_;
};

}  // namespace psig::bench
