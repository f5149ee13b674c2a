// projectsignal serve | migrate | check-config | version
#include <cstdio>
#include <cstdlib>
#include <string>

#include <spdlog/spdlog.h>

#include "app/application.hpp"
#include "app/config.hpp"
#include "app/receive_command.hpp"
#include "psig/common/logging.hpp"
#include "psig/storage/migrator.hpp"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: projectsignal [serve|migrate|check-config|version] [--config FILE]\n"
               "       projectsignal receive --listen HOST:PORT --secret whsec_...\n"
               "configuration: PSIG_CONFIG (a JSON file) and PSIG_* variables, see "
               "docs/configuration.md\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "receive") {
    std::string listen = "127.0.0.1:9999", secret;
    for (int i = 2; i + 1 < argc; i += 2) {
      const std::string flag = argv[i];
      if (flag == "--listen") listen = argv[i + 1];
      else if (flag == "--secret") secret = argv[i + 1];
      else return usage();
    }
    if (secret.empty()) return usage();
    return psig::app::run_receiver(listen, secret);
  }
  std::string command = "serve";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      setenv("PSIG_CONFIG", argv[++i], 1);
    } else if (arg == "serve" || arg == "migrate" || arg == "check-config" || arg == "version") {
      command = arg;
    } else {
      return usage();
    }
  }
  if (command == "version") {
    std::printf("projectsignal %s\n", PSIG_VERSION);
    return 0;
  }

  auto loaded = psig::app::load_config([](const char* name) { return std::getenv(name); });
  if (auto* error = std::get_if<std::string>(&loaded)) {
    std::fprintf(stderr, "projectsignal: configuration error: %s\n", error->c_str());
    return 2;
  }
  auto cfg = std::get<psig::app::config>(std::move(loaded));
  if (command == "check-config") {
    std::printf("configuration OK\n");
    return 0;
  }
  psig::common::init_logging(cfg.log_format, cfg.log_level, cfg.node_id);
  if (command == "migrate") {
    try {
      const int applied = psig::storage::migrate(cfg.database_url);
      spdlog::info("migrations applied: {}", applied);
      return 0;
    } catch (const std::exception& e) {
      spdlog::error("migrate failed: {}", e.what());
      return 1;
    }
  }
  return psig::app::application(std::move(cfg)).run();
}
