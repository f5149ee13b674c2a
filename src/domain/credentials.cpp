#include "psig/domain/credentials.hpp"

#include "psig/common/crypto.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <stdexcept>
#include <vector>

namespace psig::domain {
namespace {

constexpr std::string_view pbkdf2_scheme = "pbkdf2-sha256";
constexpr std::size_t salt_size = 16;
constexpr std::size_t derived_key_size = 32;
// Verification cost is bounded so a corrupted or hostile encoding cannot stall a thread.
constexpr int max_iterations = 10'000'000;

constexpr std::string_view api_key_tag = "psk_";
constexpr std::size_t api_key_prefix_size = 12;
constexpr std::size_t api_key_secret_size = 32;
constexpr std::size_t api_key_size =
    api_key_tag.size() + api_key_prefix_size + 1 + api_key_secret_size;

constexpr std::string_view lower_alnum = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view mixed_alnum =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

constexpr std::size_t secret_bytes = 32;

std::string pbkdf2(std::string_view password, std::string_view salt, int iterations) {
  static constexpr char empty = 0;
  std::string out(derived_key_size, '\0');
  const int ok = PKCS5_PBKDF2_HMAC(
      password.empty() ? &empty : password.data(), static_cast<int>(password.size()),
      reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
      iterations, EVP_sha256(), static_cast<int>(out.size()),
      reinterpret_cast<unsigned char*>(out.data()));
  if (ok != 1) throw std::runtime_error("PKCS5_PBKDF2_HMAC failed");
  return out;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t pos = text.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, pos - start));
    start = pos + 1;
  }
}

std::optional<int> parse_iterations(std::string_view text) {
  // from_chars would accept a leading '-', and a leading zero hints at a hand-edited value.
  if (text.empty() || text.size() > 9 || text[0] < '1' || text[0] > '9') return std::nullopt;
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  if (value > max_iterations) return std::nullopt;
  return value;
}

// Uniform over `alphabet`: bytes that would bias the modulo are redrawn.
std::string random_string(std::string_view alphabet, std::size_t length) {
  const std::size_t limit = 256 - (256 % alphabet.size());
  std::string out;
  out.reserve(length);
  while (out.size() < length) {
    for (const char c : common::random_bytes(length)) {
      const auto b = static_cast<unsigned char>(c);
      if (b >= limit) continue;
      out += alphabet[b % alphabet.size()];
      if (out.size() == length) break;
    }
  }
  return out;
}

bool all_of_alphabet(std::string_view text, std::string_view alphabet) {
  return std::all_of(text.begin(), text.end(),
                     [&](char c) { return alphabet.find(c) != std::string_view::npos; });
}

}  // namespace

std::string hash_password(std::string_view password, int iterations) {
  if (iterations < 1 || iterations > max_iterations) {
    throw std::invalid_argument("PBKDF2 iteration count out of range");
  }
  if (password.size() > static_cast<std::size_t>(INT_MAX)) {
    throw std::invalid_argument("password too long");
  }
  const std::string salt = common::random_bytes(salt_size);
  const std::string derived = pbkdf2(password, salt, iterations);
  std::string encoded(pbkdf2_scheme);
  encoded += '$';
  encoded += std::to_string(iterations);
  encoded += '$';
  encoded += common::base64_encode(salt);
  encoded += '$';
  encoded += common::base64_encode(derived);
  return encoded;
}

bool verify_password(std::string_view password, std::string_view encoded) {
  if (password.size() > static_cast<std::size_t>(INT_MAX)) return false;
  const auto parts = split(encoded, '$');
  if (parts.size() != 4 || parts[0] != pbkdf2_scheme) return false;
  const auto iterations = parse_iterations(parts[1]);
  const auto salt = common::base64_decode(parts[2]);
  const auto expected = common::base64_decode(parts[3]);
  if (!iterations || !salt || !expected) return false;
  if (salt->empty() || salt->size() > 1024 || expected->size() != derived_key_size) return false;
  return common::constant_time_equal(pbkdf2(password, *salt, *iterations), *expected);
}

generated_api_key generate_api_key() {
  generated_api_key out;
  out.prefix = random_string(lower_alnum, api_key_prefix_size);
  out.key =
      std::string(api_key_tag) + out.prefix + "_" + random_string(mixed_alnum, api_key_secret_size);
  out.hash = hash_api_key(out.key);
  return out;
}

std::optional<std::string> api_key_prefix(std::string_view key) {
  if (key.size() != api_key_size || !key.starts_with(api_key_tag)) return std::nullopt;
  const std::string_view prefix = key.substr(api_key_tag.size(), api_key_prefix_size);
  const std::size_t separator = api_key_tag.size() + api_key_prefix_size;
  const std::string_view secret = key.substr(separator + 1);
  if (key[separator] != '_') return std::nullopt;
  if (!all_of_alphabet(prefix, lower_alnum) || !all_of_alphabet(secret, mixed_alnum)) {
    return std::nullopt;
  }
  return std::string(prefix);
}

std::string hash_api_key(std::string_view key) {
  return common::sha256_hex(key);
}

bool is_api_key_scope(std::string_view scope) {
  return std::find(api_key_scopes.begin(), api_key_scopes.end(), scope) != api_key_scopes.end();
}

std::string generate_webhook_secret() {
  return "whsec_" + common::base64_encode(common::random_bytes(secret_bytes));
}

std::string generate_session_token() {
  return "pst_" + common::base64url_encode(common::random_bytes(secret_bytes));
}

std::string generate_realtime_secret() {
  return common::base64url_encode(common::random_bytes(secret_bytes));
}

}  // namespace psig::domain
