#include "psig/common/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <stdexcept>

namespace psig::common {
namespace {

constexpr std::string_view standard_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view url_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::int8_t invalid_sextet = -1;

using decode_table = std::array<std::int8_t, 256>;

constexpr decode_table make_decode_table(std::string_view alphabet) {
  decode_table table{};
  table.fill(invalid_sextet);
  for (std::size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}

constexpr decode_table standard_table = make_decode_table(standard_alphabet);
constexpr decode_table url_table = make_decode_table(url_alphabet);

// OpenSSL may treat a null pointer differently from an empty buffer, so never hand it one.
const unsigned char* bytes_of(std::string_view s) {
  static constexpr unsigned char empty = 0;
  return s.empty() ? &empty : reinterpret_cast<const unsigned char*>(s.data());
}

std::uint32_t byte_at(std::string_view bytes, std::size_t i) {
  return static_cast<std::uint8_t>(bytes[i]);
}

std::string encode(std::string_view bytes, std::string_view alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v =
        (byte_at(bytes, i) << 16) | (byte_at(bytes, i + 1) << 8) | byte_at(bytes, i + 2);
    out += alphabet[(v >> 18) & 0x3f];
    out += alphabet[(v >> 12) & 0x3f];
    out += alphabet[(v >> 6) & 0x3f];
    out += alphabet[v & 0x3f];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 0) return out;
  std::uint32_t v = byte_at(bytes, i) << 16;
  if (rest == 2) v |= byte_at(bytes, i + 1) << 8;
  out += alphabet[(v >> 18) & 0x3f];
  out += alphabet[(v >> 12) & 0x3f];
  if (rest == 2) out += alphabet[(v >> 6) & 0x3f];
  if (pad) out.append(rest == 1 ? 2 : 1, '=');
  return out;
}

// Decodes unpadded text. Rejects a dangling single character and non-zero trailing bits, so
// every byte string has exactly one accepted encoding.
std::optional<std::string> decode_unpadded(std::string_view text, const decode_table& table) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const std::int8_t sextet = table[static_cast<unsigned char>(c)];
    if (sextet == invalid_sextet) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(sextet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

// Splits off up to two '=' and checks they complete a 4-character group.
std::optional<std::string_view> strip_padding(std::string_view text) {
  const std::size_t first_pad = text.find('=');
  if (first_pad == std::string_view::npos) return text;
  const std::string_view padding = text.substr(first_pad);
  if (padding.size() > 2 || padding.find_first_not_of('=') != std::string_view::npos) {
    return std::nullopt;
  }
  if (text.size() % 4 != 0) return std::nullopt;
  return text.substr(0, first_pad);
}

}  // namespace

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  std::size_t done = 0;
  while (done < n) {
    const int chunk = static_cast<int>(std::min<std::size_t>(n - done, INT_MAX));
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data() + done), chunk) != 1) {
      throw std::runtime_error("RAND_bytes failed");
    }
    done += static_cast<std::size_t>(chunk);
  }
  return out;
}

std::string hex_encode(std::string_view bytes) {
  static constexpr std::string_view digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<std::uint8_t>(c);
    out += digits[b >> 4];
    out += digits[b & 0x0f];
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  return encode(bytes, standard_alphabet, true);
}

std::string base64url_encode(std::string_view bytes) {
  return encode(bytes, url_alphabet, false);
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  const auto body = strip_padding(text);
  if (!body) return std::nullopt;
  return decode_unpadded(*body, standard_table);
}

std::optional<std::string> base64url_decode(std::string_view text) {
  const auto body = strip_padding(text);
  if (!body) return std::nullopt;
  return decode_unpadded(*body, url_table);
}

std::string sha256(std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (EVP_Digest(bytes_of(data), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                 EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(SHA-256) failed");
  }
  out.resize(len);
  return out;
}

std::string sha256_hex(std::string_view data) {
  return hex_encode(sha256(data));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  if (key.size() > static_cast<std::size_t>(INT_MAX)) {
    throw std::invalid_argument("HMAC key too long");
  }
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), bytes_of(key), static_cast<int>(key.size()), bytes_of(data), data.size(),
           reinterpret_cast<unsigned char*>(out.data()), &len) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  out.resize(len);
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace psig::common
