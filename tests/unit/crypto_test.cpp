#include "psig/common/crypto.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace psig::common {
namespace {

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

TEST(Crypto, RandomBytesHaveRequestedLengthAndDiffer) {
  EXPECT_TRUE(random_bytes(0).empty());
  EXPECT_EQ(random_bytes(1).size(), 1u);
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(random_bytes(16));
  EXPECT_EQ(seen.size(), 100u);
}

TEST(Crypto, HexEncodeIsLowerCase) {
  EXPECT_EQ(hex_encode(""), "");
  EXPECT_EQ(hex_encode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
}

TEST(Crypto, Sha256OfAbc) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256("abc").size(), 32u);
}

TEST(Crypto, Sha256OfEmptyString) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Crypto, HmacSha256Rfc4231Case1) {
  const std::string key(20, '\x0b');
  EXPECT_EQ(hex_encode(hmac_sha256(key, "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(Crypto, HmacSha256Rfc4231Case2) {
  EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, HmacSha256Rfc4231Case6LongKey) {
  const std::string key(131, '\xaa');
  EXPECT_EQ(hex_encode(hmac_sha256(key, "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Crypto, HmacWithEmptyKeyAndData) {
  EXPECT_EQ(hex_encode(hmac_sha256("", "")),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(Crypto, Base64Rfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(base64_decode(""), "");
}

TEST(Crypto, Base64UsesStandardAlphabetAndUrlVariantDoesNot) {
  const std::string bytes = from_hex("fbff");
  EXPECT_EQ(base64_encode(bytes), "+/8=");
  EXPECT_EQ(base64url_encode(bytes), "-_8");
}

TEST(Crypto, Base64RoundTripsAllLengths) {
  for (std::size_t n = 0; n < 70; ++n) {
    const std::string bytes = random_bytes(n);
    EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes) << n;
    EXPECT_EQ(base64url_decode(base64url_encode(bytes)), bytes) << n;
  }
}

TEST(Crypto, Base64RoundTripsEveryByteValue) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  EXPECT_EQ(base64_decode(base64_encode(bytes)), bytes);
  EXPECT_EQ(base64url_decode(base64url_encode(bytes)), bytes);
}

TEST(Crypto, Base64RejectsMalformedInput) {
  for (const char* bad : {"Zg", "Zg=", "Zm8", "Z===", "====", "Zg==Zg==", "Zm9v!A==", "Zm 9v",
                          "Zm9v\n", "Zg=a", "-_8=", "Zh==", "Zm9=", "A"}) {
    EXPECT_EQ(base64_decode(bad), std::nullopt) << bad;
  }
}

TEST(Crypto, Base64UrlAcceptsMissingOrPresentPadding) {
  EXPECT_EQ(base64url_decode("Zg"), "f");
  EXPECT_EQ(base64url_decode("Zg=="), "f");
  EXPECT_EQ(base64url_decode("Zm8"), "fo");
  EXPECT_EQ(base64url_decode("Zm8="), "fo");
  EXPECT_EQ(base64url_decode("-_8"), from_hex("fbff"));
}

TEST(Crypto, Base64UrlRejectsMalformedInput) {
  for (const char* bad : {"A", "Zm9vY", "+/8", "Zg=", "Zg===", "Z===", "Zg=a", "Zh", "Zm 8"}) {
    EXPECT_EQ(base64url_decode(bad), std::nullopt) << bad;
  }
}

TEST(Crypto, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace psig::common
