// Classifies addresses only: nothing here opens a socket or resolves a name.
#include "psig/domain/address_class.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace psig::domain {
namespace {

ip_address ip(const char* text) {
  const auto addr = parse_ip(text);
  EXPECT_TRUE(addr) << text;
  return addr.value_or(ip_address{});
}

// The reason as a string, "global" when the address is globally routable.
std::string reason(const char* text) {
  const auto addr = parse_ip(text);
  if (!addr) return "(unparsable)";
  return non_global_reason(*addr).value_or("global");
}

cidr net(const char* text) {
  const auto parsed = parse_cidr(text);
  EXPECT_TRUE(parsed) << text;
  return parsed.value_or(cidr{});
}

struct sample {
  const char* inside;
  const char* reason;
  const char* first_outside;  // nullptr where the next address belongs to another range
};

TEST(AddressClass, Ipv4Ranges) {
  const std::vector<sample> samples{
      {"0.0.0.0", "unspecified", nullptr},
      {"0.255.255.255", "unspecified", "1.0.0.0"},
      {"10.0.0.1", "private", nullptr},
      {"10.255.255.255", "private", "11.0.0.0"},
      {"100.64.0.1", "cgnat", nullptr},
      {"100.127.255.255", "cgnat", "100.128.0.0"},
      {"100.64.0.0", "cgnat", "100.63.255.255"},
      {"127.0.0.1", "loopback", nullptr},
      {"127.255.255.255", "loopback", "128.0.0.0"},
      {"169.254.169.254", "link-local", nullptr},
      {"169.254.255.255", "link-local", "169.255.0.0"},
      {"172.16.0.1", "private", "172.15.255.255"},
      {"172.31.255.255", "private", "172.32.0.0"},
      {"192.0.0.8", "reserved", "192.0.1.0"},
      {"192.0.2.1", "documentation", "192.0.3.0"},
      {"192.88.99.1", "reserved", "192.88.100.0"},
      {"192.168.1.1", "private", "192.169.0.0"},
      {"192.168.0.0", "private", "192.167.255.255"},
      {"198.18.0.1", "benchmarking", "198.17.255.255"},
      {"198.19.255.255", "benchmarking", "198.20.0.0"},
      {"198.51.100.7", "documentation", "198.51.101.0"},
      {"203.0.113.9", "documentation", "203.0.114.0"},
      {"224.0.0.1", "multicast", "223.255.255.255"},
      {"239.255.255.255", "multicast", nullptr},
      {"240.0.0.1", "reserved", nullptr},
      {"255.255.255.254", "reserved", nullptr},
      {"255.255.255.255", "broadcast", nullptr},
  };
  for (const auto& s : samples) {
    EXPECT_EQ(reason(s.inside), s.reason) << s.inside;
    if (s.first_outside != nullptr) {
      EXPECT_EQ(reason(s.first_outside), "global") << s.first_outside;
    }
  }
}

TEST(AddressClass, Ipv6Ranges) {
  const std::vector<sample> samples{
      {"::", "unspecified", nullptr},
      {"::1", "loopback", nullptr},
      {"::2", "reserved", nullptr},  // v4-compatible ::/96
      {"::0.0.0.8", "reserved", nullptr},
      {"::8.8.8.8", "reserved", nullptr},           // deprecated form is never trusted
      {"::ffff:10.1.2.3", "private", nullptr},      // v4-mapped: by the IPv4 address
      {"64:ff9b::a00:1", "private", nullptr},       // NAT64 of 10.0.0.1
      {"64:ff9b:1::7f00:1", "loopback", nullptr},   // local-use NAT64, /96 layout
      {"64:ff9b:1:7f00:1::", "reserved", nullptr},  // other layouts of that /48 fail closed
      {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "reserved", nullptr},
      {"100::1", "reserved", nullptr},
      {"100::ffff:ffff:ffff:ffff", "reserved", nullptr},
      {"2001::1", "reserved", "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},  // Teredo
      {"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "reserved", "2001:200::"},
      {"2001:db8::1", "documentation", "2001:db9::"},
      {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "global", nullptr},
      {"2002:c0a8:101::1", "private", nullptr},  // 6to4 of 192.168.1.1
      {"fc00::1", "unique-local", nullptr},
      {"fd00:ec2::254", "unique-local", "fe00::"},  // AWS metadata over IPv6
      {"fe80::1", "link-local", nullptr},
      {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "link-local", nullptr},
      {"fec0::1", "site-local", nullptr},
      {"ff02::1", "multicast", nullptr},
      {"ff0e::1", "multicast", nullptr},
  };
  for (const auto& s : samples) {
    EXPECT_EQ(reason(s.inside), s.reason) << s.inside;
    if (s.first_outside == nullptr) continue;
    // "First outside" neighbours of IPv6 ranges are often unallocated space, which is refused
    // too; what matters is that they are not given the range's reason.
    EXPECT_NE(reason(s.first_outside), s.reason) << s.first_outside;
  }
  EXPECT_EQ(reason("2000::1"), "global");
  EXPECT_EQ(reason("2001:200::1"), "global");
  EXPECT_EQ(reason("2001:db9::1"), "global");
  EXPECT_EQ(reason("3fff:ffff::1"), "global");
}

TEST(AddressClass, OutsideGlobalUnicastIsRefused) {
  EXPECT_EQ(reason("4000::1"), "reserved");
  EXPECT_EQ(reason("1fff:ffff::1"), "reserved");
  EXPECT_EQ(reason("fe00::1"), "reserved");
  EXPECT_EQ(reason("::ffff:0:808:808"), "reserved");  // SIIT "IPv4-translated"
}

TEST(AddressClass, LoopbackSpellings) {
  for (const char* text :
       {"127.0.0.1", "::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "64:ff9b::7f00:1",
        "64:ff9b::127.0.0.1", "2002:7f00:1::", "0:0:0:0:0:0:0:1", "::0:1"}) {
    EXPECT_EQ(reason(text), "loopback") << text;
    EXPECT_FALSE(address_allowed(ip(text), {})) << text;
  }
  EXPECT_EQ(reason("0.0.0.0"), "unspecified");
  EXPECT_EQ(reason("::"), "unspecified");
  EXPECT_EQ(reason("::ffff:0.0.0.0"), "unspecified");
}

TEST(AddressClass, OnlyCanonicalTextParses) {
  // The guard classifies resolved addresses, which are always canonical; shorthand such as
  // "127.1" is a hostname to the resolver, and its *result* is what gets classified.
  for (const char* text :
       {"127.1",           "127.0.1",    "2130706433",   "0x7f.0.0.1", "0177.0.0.1",
        "127.000.000.001", "127.0.0.1.", " 127.0.0.1",   "127.0.0.1 ", "256.0.0.1",
        "1.2.3.4.5",       "",           "localhost",    ":::1",       "1::2::3",
        "fe80::1%eth0",    "[::1]",      "::ffff:127.1", "12345::",    "127.0.0.1/8"}) {
    EXPECT_FALSE(parse_ip(text)) << text;
  }
  EXPECT_FALSE(parse_ip(std::string_view("127.0.0.1\0.evil", 15)));
  EXPECT_FALSE(parse_ip(std::string(100, '1')));
}

TEST(AddressClass, TranslatedAndMappedForms) {
  EXPECT_EQ(reason("169.254.169.254"), "link-local");
  EXPECT_EQ(reason("::ffff:169.254.169.254"), "link-local");
  EXPECT_EQ(reason("64:ff9b::a9fe:a9fe"), "link-local");
  EXPECT_EQ(reason("2002:a9fe:a9fe::"), "link-local");
  EXPECT_EQ(reason("::ffff:100.64.0.1"), "cgnat");
  EXPECT_EQ(reason("2002:0808:0808::"), "global");  // 6to4 of 8.8.8.8
  EXPECT_EQ(reason("::ffff:8.8.8.8"), "global");
  EXPECT_EQ(reason("64:ff9b::808:808"), "global");
}

TEST(AddressClass, PublicAddressesAreAllowed) {
  for (const char* text : {"8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2001:4860:4860::8888",
                           "2002:0808:0808::", "93.184.216.34"}) {
    EXPECT_EQ(reason(text), "global") << text;
    EXPECT_TRUE(address_allowed(ip(text), {})) << text;
  }
}

TEST(AddressClass, RefusedAddresses) {
  for (const char* text : {"169.254.169.254", "100.64.0.1", "fd00:ec2::254", "fe80::1", "ff02::1",
                           "10.0.0.1", "192.168.0.1", "172.16.0.1", "0.0.0.0", "::"}) {
    EXPECT_FALSE(address_allowed(ip(text), {})) << text;
  }
}

TEST(Cidr, ParseAndContainV4) {
  const cidr ten = net("10.0.0.0/8");
  EXPECT_FALSE(ten.network.v6);
  EXPECT_EQ(ten.prefix, 8);
  EXPECT_TRUE(cidr_contains(ten, ip("10.0.0.0")));
  EXPECT_TRUE(cidr_contains(ten, ip("10.255.255.255")));
  EXPECT_FALSE(cidr_contains(ten, ip("11.0.0.0")));
  EXPECT_FALSE(cidr_contains(ten, ip("9.255.255.255")));

  const cidr odd = net("100.64.0.0/10");
  EXPECT_TRUE(cidr_contains(odd, ip("100.127.0.1")));
  EXPECT_FALSE(cidr_contains(odd, ip("100.128.0.1")));

  const cidr host = net("192.0.2.7");
  EXPECT_EQ(host.prefix, 32);
  EXPECT_TRUE(cidr_contains(host, ip("192.0.2.7")));
  EXPECT_FALSE(cidr_contains(host, ip("192.0.2.8")));
  EXPECT_EQ(net("192.0.2.7/32").prefix, 32);

  const cidr all = net("0.0.0.0/0");
  EXPECT_TRUE(cidr_contains(all, ip("8.8.8.8")));
  EXPECT_TRUE(cidr_contains(all, ip("255.255.255.255")));
  EXPECT_FALSE(cidr_contains(all, ip("::1")));  // families never mix
}

TEST(Cidr, ParseAndContainV6) {
  const cidr ula = net("fc00::/7");
  EXPECT_TRUE(ula.network.v6);
  EXPECT_TRUE(cidr_contains(ula, ip("fdff:ffff::1")));
  EXPECT_FALSE(cidr_contains(ula, ip("fe00::")));
  EXPECT_FALSE(cidr_contains(ula, ip("fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));

  const cidr loop = net("::1/128");
  EXPECT_TRUE(cidr_contains(loop, ip("::1")));
  EXPECT_FALSE(cidr_contains(loop, ip("::2")));
  EXPECT_FALSE(cidr_contains(loop, ip("127.0.0.1")));
  EXPECT_EQ(net("::1").prefix, 128);

  const cidr all = net("::/0");
  EXPECT_TRUE(cidr_contains(all, ip("2001:db8::1")));
  EXPECT_FALSE(cidr_contains(all, ip("1.2.3.4")));

  const cidr mapped = net("::ffff:10.0.0.0/104");
  EXPECT_TRUE(cidr_contains(mapped, ip("::ffff:10.9.8.7")));
  EXPECT_FALSE(cidr_contains(mapped, ip("::ffff:11.0.0.0")));
}

TEST(Cidr, HostBitsAreCleared) {
  const cidr c = net("10.1.2.3/8");
  EXPECT_EQ(to_string(c.network), "10.0.0.0");
  EXPECT_TRUE(cidr_contains(c, ip("10.200.0.1")));
  EXPECT_EQ(to_string(net("2001:db8::1/32").network), "2001:db8::");
  EXPECT_EQ(to_string(net("255.255.255.255/0").network), "0.0.0.0");
}

TEST(Cidr, BadPrefixes) {
  for (const char* text : {"10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/8/8",
                           "10.0.0.0/08", "10.0.0.0/ 8", "10.0.0.0/+8", "10.0.0.0/8 ", "/8",
                           "10.0.0/8", "10.0.0.0/1000", "10.0.0.0/a", "::1/1280", "", "/"}) {
    EXPECT_FALSE(parse_cidr(text)) << text;
  }
  EXPECT_EQ(net("10.0.0.0/0").prefix, 0);
  EXPECT_EQ(net("::/128").prefix, 128);
}

TEST(Cidr, MalformedCidrIsNeverContained) {
  cidr broken = net("10.0.0.0/8");
  broken.prefix = 40;
  EXPECT_FALSE(cidr_contains(broken, ip("10.0.0.1")));
  broken.prefix = -1;
  EXPECT_FALSE(cidr_contains(broken, ip("10.0.0.1")));
}

TEST(AddressAllowed, OperatorAllowList) {
  const std::vector<cidr> allow{net("127.0.0.0/8"), net("::1/128")};
  EXPECT_TRUE(address_allowed(ip("127.0.0.1"), allow));
  EXPECT_TRUE(address_allowed(ip("127.5.6.7"), allow));
  EXPECT_TRUE(address_allowed(ip("::1"), allow));
  EXPECT_TRUE(address_allowed(ip("::ffff:127.0.0.1"), allow));  // reaches 127.0.0.1
  EXPECT_TRUE(address_allowed(ip("8.8.8.8"), allow));           // global stays allowed
  EXPECT_FALSE(address_allowed(ip("10.0.0.1"), allow));
  EXPECT_FALSE(address_allowed(ip("169.254.169.254"), allow));
  EXPECT_FALSE(address_allowed(ip("::2"), allow));
  EXPECT_FALSE(address_allowed(ip("fe80::1"), allow));
  // Translated forms are not covered by an IPv4 allow-list entry: they go through a gateway.
  EXPECT_FALSE(address_allowed(ip("64:ff9b::7f00:1"), allow));
  EXPECT_FALSE(address_allowed(ip("2002:7f00:1::"), allow));
}

TEST(AddressClass, ToString) {
  EXPECT_EQ(to_string(ip("8.8.8.8")), "8.8.8.8");
  EXPECT_EQ(to_string(ip("2001:4860:4860:0:0:0:0:8888")), "2001:4860:4860::8888");
  EXPECT_EQ(to_string(ip("::ffff:7f00:1")), "::ffff:127.0.0.1");
  EXPECT_EQ(to_string(ip("::")), "::");
}

}  // namespace
}  // namespace psig::domain
