# All dependencies come from Debian packages (scripts/lib/common.sh installs them).
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(Boost 1.81 REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(spdlog REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(pqxx REQUIRED IMPORTED_TARGET libpqxx)
pkg_check_modules(hiredis REQUIRED IMPORTED_TARGET hiredis)
# Debian's cnats CMake package names a static library it does not ship: use pkg-config.
pkg_check_modules(nats REQUIRED IMPORTED_TARGET libnats)

