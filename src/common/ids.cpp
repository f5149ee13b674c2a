#include "psig/common/ids.hpp"

#include "psig/common/crypto.hpp"

#include <array>
#include <chrono>
#include <utility>

namespace psig::common {
namespace {

constexpr std::string_view crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr std::size_t ulid_length = 26;
constexpr std::size_t time_chars = 10;          // 50 bits, the top two always zero
constexpr std::size_t random_bytes_count = 10;  // 80 bits
constexpr std::uint64_t max_time_ms = (std::uint64_t{1} << 48) - 1;

constexpr std::int8_t not_a_digit = -1;

constexpr std::array<std::int8_t, 256> make_digit_table() {
  std::array<std::int8_t, 256> table{};
  table.fill(not_a_digit);
  for (std::size_t i = 0; i < crockford.size(); ++i) {
    table[static_cast<unsigned char>(crockford[i])] = static_cast<std::int8_t>(i);
  }
  return table;
}

constexpr auto digit_table = make_digit_table();

// 80 random bits kept as 16 high + 64 low so incrementing is two integer operations.
struct random_part {
  std::uint16_t hi = 0;
  std::uint64_t lo = 0;
};

struct ulid_state {
  std::uint64_t last_ms = 0;
  random_part last_random;
};

std::uint64_t now_ms() {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count());
}

random_part fresh_random() {
  const std::string bytes = random_bytes(random_bytes_count);
  random_part r;
  r.hi = static_cast<std::uint16_t>((static_cast<std::uint8_t>(bytes[0]) << 8) |
                                    static_cast<std::uint8_t>(bytes[1]));
  for (std::size_t i = 2; i < random_bytes_count; ++i) {
    r.lo = (r.lo << 8) | static_cast<std::uint8_t>(bytes[i]);
  }
  return r;
}

// Returns false when the 80 bits wrap around to zero.
bool increment(random_part& r) {
  if (++r.lo != 0) return true;
  return ++r.hi != 0;
}

// Picks the (time, random) pair for the next id so that ids from one thread strictly increase,
// even if the wall clock stalls or steps backwards.
std::pair<std::uint64_t, random_part> next_components(ulid_state& state) {
  const std::uint64_t now = now_ms();
  if (now > state.last_ms) {
    state.last_ms = now;
    state.last_random = fresh_random();
  } else if (!increment(state.last_random)) {
    // 2^80 ids in one millisecond cannot happen with a fresh draw, but borrow the next
    // millisecond rather than repeat an id.
    ++state.last_ms;
    state.last_random = fresh_random();
  }
  return {state.last_ms & max_time_ms, state.last_random};
}

std::string encode(std::uint64_t time_ms, random_part r) {
  std::string out(ulid_length, '0');
  for (std::size_t i = 0; i < time_chars; ++i) {
    out[time_chars - 1 - i] = crockford[time_ms & 0x1f];
    time_ms >>= 5;
  }
  // The low 64 bits fill the last 12 characters and four bits of the 13th; the 16 high bits
  // supply the 13th character's remaining bit and the first three random characters.
  std::uint64_t lo = r.lo;
  for (std::size_t i = 0; i < 12; ++i) {
    out[ulid_length - 1 - i] = crockford[lo & 0x1f];
    lo >>= 5;
  }
  std::uint32_t hi = (static_cast<std::uint32_t>(r.hi) << 4) | static_cast<std::uint32_t>(lo);
  for (std::size_t i = 12; i < 16; ++i) {
    out[ulid_length - 1 - i] = crockford[hi & 0x1f];
    hi >>= 5;
  }
  return out;
}

bool is_valid_ulid(std::string_view ulid) {
  if (ulid.size() != ulid_length) return false;
  // 26 characters hold 130 bits; a first digit above 7 would overflow 128.
  if (digit_table[static_cast<unsigned char>(ulid[0])] > 7) return false;
  for (const char c : ulid) {
    if (digit_table[static_cast<unsigned char>(c)] == not_a_digit) return false;
  }
  return true;
}

}  // namespace

std::string new_ulid() {
  thread_local ulid_state state;
  const auto [time_ms, random] = next_components(state);
  return encode(time_ms, random);
}

std::string new_id(std::string_view prefix) {
  std::string id;
  id.reserve(prefix.size() + 1 + ulid_length);
  id.append(prefix);
  id += '_';
  id += new_ulid();
  return id;
}

bool is_valid_id(std::string_view prefix, std::string_view id) {
  if (id.size() != prefix.size() + 1 + ulid_length) return false;
  if (!id.starts_with(prefix) || id[prefix.size()] != '_') return false;
  return is_valid_ulid(id.substr(prefix.size() + 1));
}

std::optional<std::int64_t> ulid_time_ms(std::string_view ulid) {
  if (!is_valid_ulid(ulid)) return std::nullopt;
  std::uint64_t ms = 0;
  for (std::size_t i = 0; i < time_chars; ++i) {
    ms = (ms << 5) | static_cast<std::uint64_t>(digit_table[static_cast<unsigned char>(ulid[i])]);
  }
  return static_cast<std::int64_t>(ms);
}

}  // namespace psig::common
