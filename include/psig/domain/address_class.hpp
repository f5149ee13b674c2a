#pragma once
// The SSRF guard's address classifier (DESIGN §8): which resolved addresses the delivery client
// may connect to. Pure: it classifies addresses and never connects anywhere.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace psig::domain {

// An IPv4 (4 bytes) or IPv6 (16 bytes) address in network byte order.
struct ip_address {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};
};

// A canonical dotted quad ("127.0.0.1") or RFC 4291 text ("::1", "::ffff:127.0.0.1"), as
// inet_pton reads them: no "127.1", octal, hex or zone ids ("fe80::1%eth0"). That is enough
// because the guard classifies *resolved* addresses, which are always in this form; a hostname
// such as "127.1" is resolved first and its result classified.
std::optional<ip_address> parse_ip(std::string_view text);

struct cidr {
  ip_address network;
  int prefix = 0;
};
// "10.0.0.0/8", "::1/128", "127.0.0.1" (a host: /32 or /128); nullopt when malformed. Host
// bits are cleared ("10.1.2.3/8" is 10.0.0.0/8). Families never mix: a v4 network contains only
// v4 addresses.
std::optional<cidr> parse_cidr(std::string_view text);
bool cidr_contains(const cidr& net, const ip_address& addr);

// Why an address is not globally routable, or nullopt when it is. Covers IPv4: 0/8 ("this
// network"), 10/8, 100.64/10 (CGNAT), 127/8, 169.254/16 (link-local, incl. 169.254.169.254
// metadata), 172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24, 192.168/16, 198.18/15,
// 198.51.100/24, 203.0.113/24, 224/4 (multicast), 240/4, 255.255.255.255; IPv6: ::, ::1,
// ::ffff:0:0/96 (v4-mapped: classified by the embedded IPv4), ::/96 (v4-compatible),
// 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64: by embedded IPv4), 100::/64, 2001::/23 (IETF
// protocol assignments incl. Teredo 2001::/32), 2001:db8::/32, 2002::/16 (6to4: by embedded
// IPv4), fc00::/7 (unique-local), fe80::/10 (link-local), fec0::/10, ff00::/8 (multicast), and
// AWS's fd00:ec2::254 (covered by fc00::/7). Of 64:ff9b:1::/48 only the /96 layout is read
// (the rest of the /48 is "reserved": fail closed), and any IPv6 address outside 2000::/3 that
// is not listed above is "reserved" too (unallocated). Examples of reasons: "loopback", "private",
// "link-local", "cgnat", "multicast", "unspecified", "reserved", "documentation", "unique-local".
std::optional<std::string> non_global_reason(const ip_address& addr);

// The guard's decision: allowed when global, or when inside one of the operator's CIDRs (a
// v4-mapped address also matches the operator's IPv4 CIDRs).
bool address_allowed(const ip_address& addr, const std::vector<cidr>& allow);

std::string to_string(const ip_address& addr);

}  // namespace psig::domain
