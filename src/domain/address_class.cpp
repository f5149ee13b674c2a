#include "psig/domain/address_class.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>

namespace psig::domain {
namespace {

struct range {
  cidr net;
  const char* reason;
};

// The tables below are constant and known good, so the dereference cannot fail.
range make_range(const char* text, const char* reason) {
  return {*parse_cidr(text), reason};
}

// Order matters where ranges nest: the more specific entry comes first.
const std::vector<range>& v4_ranges() {
  static const std::vector<range> ranges{
      make_range("0.0.0.0/8", "unspecified"),  // Linux connects 0.0.0.0 to the local host
      make_range("10.0.0.0/8", "private"),
      make_range("100.64.0.0/10", "cgnat"),
      make_range("127.0.0.0/8", "loopback"),
      make_range("169.254.0.0/16", "link-local"),
      make_range("172.16.0.0/12", "private"),
      make_range("192.0.0.0/24", "reserved"),
      make_range("192.0.2.0/24", "documentation"),
      make_range("192.88.99.0/24", "reserved"),  // former 6to4 relay anycast
      make_range("192.168.0.0/16", "private"),
      make_range("198.18.0.0/15", "benchmarking"),
      make_range("198.51.100.0/24", "documentation"),
      make_range("203.0.113.0/24", "documentation"),
      make_range("224.0.0.0/4", "multicast"),
      make_range("255.255.255.255/32", "broadcast"),
      make_range("240.0.0.0/4", "reserved"),
  };
  return ranges;
}

// Prefixes whose addresses carry an IPv4 address that the traffic really goes to; they are
// classified by that address, so 6to4 of 127.0.0.1 is as local as 127.0.0.1 itself.
struct embedding {
  cidr net;
  std::size_t offset;  // of the 4 IPv4 bytes
};

const std::vector<embedding>& v6_embeddings() {
  static const std::vector<embedding> embeddings{
      {*parse_cidr("::ffff:0:0/96"), 12},  // v4-mapped
      {*parse_cidr("64:ff9b::/96"), 12},   // NAT64, well-known prefix
      // Local-use NAT64 (RFC 8215) may embed the IPv4 address at other offsets (RFC 6052);
      // only its /96 layout is classified, the rest of the /48 below fails closed.
      {*parse_cidr("64:ff9b:1::/96"), 12},
      {*parse_cidr("2002::/16"), 2},  // 6to4
  };
  return embeddings;
}

const std::vector<range>& v6_ranges() {
  static const std::vector<range> ranges{
      make_range("::/128", "unspecified"),
      make_range("::1/128", "loopback"),
      make_range("::/96", "reserved"),  // deprecated v4-compatible
      make_range("64:ff9b:1::/48", "reserved"),
      make_range("100::/64", "reserved"),  // discard-only
      make_range("2001:db8::/32", "documentation"),
      make_range("2001::/23", "reserved"),  // IETF protocol assignments, incl. Teredo
      make_range("fc00::/7", "unique-local"),
      make_range("fe80::/10", "link-local"),
      make_range("fec0::/10", "site-local"),
      make_range("ff00::/8", "multicast"),
  };
  return ranges;
}

const cidr& v6_global_unicast() {
  static const cidr net = *parse_cidr("2000::/3");
  return net;
}

ip_address embedded_v4(const ip_address& addr, std::size_t offset) {
  ip_address v4;
  std::copy_n(addr.bytes.begin() + static_cast<std::ptrdiff_t>(offset), 4, v4.bytes.begin());
  return v4;
}

std::optional<std::string> v4_reason(const ip_address& addr) {
  for (const auto& r : v4_ranges()) {
    if (cidr_contains(r.net, addr)) return r.reason;
  }
  return std::nullopt;
}

bool parse_prefix(std::string_view text, int max, int& out) {
  // One spelling per prefix: no sign, no leading zeros, no spaces.
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0')) return false;
  out = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return out <= max;
}

}  // namespace

std::optional<ip_address> parse_ip(std::string_view text) {
  // inet_pton needs a NUL-terminated string; an embedded NUL would silently cut the text short.
  if (text.empty() || text.size() > INET6_ADDRSTRLEN || text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string copy(text);
  ip_address addr;
  addr.v6 = copy.find(':') != std::string::npos;
  if (inet_pton(addr.v6 ? AF_INET6 : AF_INET, copy.c_str(), addr.bytes.data()) != 1) {
    return std::nullopt;
  }
  return addr;
}

std::optional<cidr> parse_cidr(std::string_view text) {
  const std::size_t slash = text.find('/');
  auto addr = parse_ip(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const int bits = addr->v6 ? 128 : 32;
  int prefix = bits;
  if (slash != std::string_view::npos && !parse_prefix(text.substr(slash + 1), bits, prefix)) {
    return std::nullopt;
  }
  // "10.1.2.3/8" is read as 10.0.0.0/8: host bits are cleared rather than rejected, which is
  // what the operator meant and keeps cidr_contains a plain prefix comparison.
  for (int i = prefix; i < bits; ++i) {
    addr->bytes[static_cast<std::size_t>(i / 8)] &= static_cast<std::uint8_t>(~(0x80u >> (i % 8)));
  }
  return cidr{*addr, prefix};
}

bool cidr_contains(const cidr& net, const ip_address& addr) {
  if (net.network.v6 != addr.v6) return false;
  const int bits = addr.v6 ? 128 : 32;
  if (net.prefix < 0 || net.prefix > bits) return false;
  const auto whole = static_cast<std::size_t>(net.prefix / 8);
  if (!std::equal(addr.bytes.begin(), addr.bytes.begin() + static_cast<std::ptrdiff_t>(whole),
                  net.network.bytes.begin())) {
    return false;
  }
  const int rest = net.prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xffu << (8 - rest));
  return (addr.bytes[whole] & mask) == (net.network.bytes[whole] & mask);
}

std::optional<std::string> non_global_reason(const ip_address& addr) {
  if (!addr.v6) return v4_reason(addr);
  for (const auto& e : v6_embeddings()) {
    if (cidr_contains(e.net, addr)) return v4_reason(embedded_v4(addr, e.offset));
  }
  for (const auto& r : v6_ranges()) {
    if (cidr_contains(r.net, addr)) return r.reason;
  }
  // Beyond the listed ranges, only 2000::/3 is allocated for global unicast; anything else
  // (unallocated today) is refused rather than trusted.
  if (!cidr_contains(v6_global_unicast(), addr)) return "reserved";
  return std::nullopt;
}

bool address_allowed(const ip_address& addr, const std::vector<cidr>& allow) {
  // A v4-mapped address reaches the IPv4 host, so "127.0.0.0/8" also admits ::ffff:127.0.0.1.
  static const cidr mapped = *parse_cidr("::ffff:0:0/96");
  std::optional<ip_address> as_v4;
  if (addr.v6 && cidr_contains(mapped, addr)) as_v4 = embedded_v4(addr, 12);
  for (const auto& net : allow) {
    if (cidr_contains(net, addr) || (as_v4 && cidr_contains(net, *as_v4))) return true;
  }
  return !non_global_reason(addr).has_value();
}

std::string to_string(const ip_address& addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(addr.v6 ? AF_INET6 : AF_INET, addr.bytes.data(), buf, sizeof buf) == nullptr) {
    return {};
  }
  return buf;
}

}  // namespace psig::domain
