#pragma once
// The one object that wires the modules together: config in, a serving daemon out.
#include <memory>

#include "app/config.hpp"

namespace psig::app {

class application {
 public:
  explicit application(config cfg);
  ~application();
  // Migrates, serves until SIGTERM/SIGINT, stops gracefully. Returns the process exit code.
  int run();

 private:
  struct parts;
  void wire_api();
  void start_pipeline();
  config cfg_;
  std::unique_ptr<parts> parts_;
};

}  // namespace psig::app
