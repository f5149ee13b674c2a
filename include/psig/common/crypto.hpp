#pragma once
// Small wrappers over OpenSSL 3. Strings carry raw bytes unless a name says otherwise.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace psig::common {

// Cryptographically secure random bytes (RAND_bytes). Throws std::runtime_error on failure.
std::string random_bytes(std::size_t n);

std::string hex_encode(std::string_view bytes);  // lowercase
std::string base64_encode(std::string_view bytes);     // standard alphabet, padded
std::string base64url_encode(std::string_view bytes);  // URL alphabet, no padding
std::optional<std::string> base64_decode(std::string_view text);     // nullopt when malformed
std::optional<std::string> base64url_decode(std::string_view text);  // accepts missing padding

std::string sha256(std::string_view data);  // 32 raw bytes
std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // 32 raw bytes

// Compares in time that depends only on the lengths (CRYPTO_memcmp), not on where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace psig::common
