#include "psig/domain/webhook_signature.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "psig/domain/credentials.hpp"

namespace psig::domain {
namespace {

// The reference vector published by Standard Webhooks (and used by Svix's libraries).
constexpr const char* secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr const char* msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t timestamp = 1614265330;
constexpr const char* body = R"({"test": 2432232314})";
constexpr const char* expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

TEST(WebhookSignature, ReferenceVector) {
  EXPECT_EQ(sign_webhook(secret, msg_id, timestamp, body), expected);
}

TEST(WebhookSignature, EveryInputIsSigned) {
  const auto base = *sign_webhook(secret, msg_id, timestamp, body);
  EXPECT_NE(sign_webhook(secret, "msg_other", timestamp, body), base);
  EXPECT_NE(sign_webhook(secret, msg_id, timestamp + 1, body), base);
  EXPECT_NE(sign_webhook(secret, msg_id, timestamp, R"({"test": 2432232315})"), base);
  EXPECT_NE(sign_webhook("whsec_" + std::string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), msg_id,
                         timestamp, body),
            base);
}

TEST(WebhookSignature, InvalidSecrets) {
  for (const char* bad :
       {"", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}) {
    EXPECT_FALSE(sign_webhook(bad, msg_id, timestamp, body)) << bad;
  }
}

TEST(WebhookSignature, GeneratedSecretsSign) {
  const std::string generated = generate_webhook_secret();
  const auto signature = sign_webhook(generated, msg_id, timestamp, body);
  ASSERT_TRUE(signature);
  EXPECT_TRUE(signature->starts_with("v1,"));
  EXPECT_EQ(signature->size(), 3u + 44u);  // base64 of 32 bytes
}

TEST(WebhookSignature, HeaderWithTwoSecrets) {
  const std::string other = generate_webhook_secret();
  const std::string header = signature_header({secret, other}, msg_id, timestamp, body);
  EXPECT_EQ(header, std::string(expected) + " " + *sign_webhook(other, msg_id, timestamp, body));
  EXPECT_TRUE(verify_webhook(secret, msg_id, timestamp, body, header, timestamp));
  EXPECT_TRUE(verify_webhook(other, msg_id, timestamp, body, header, timestamp));
}

TEST(WebhookSignature, HeaderSkipsInvalidSecrets) {
  EXPECT_EQ(signature_header({"bogus", secret, "whsec_"}, msg_id, timestamp, body), expected);
  EXPECT_EQ(signature_header({}, msg_id, timestamp, body), "");
  EXPECT_EQ(signature_header({"bogus"}, msg_id, timestamp, body), "");
}

TEST(VerifyWebhook, Succeeds) {
  EXPECT_TRUE(verify_webhook(secret, msg_id, timestamp, body, expected, timestamp));
  EXPECT_TRUE(verify_webhook(secret, msg_id, timestamp, body, expected, timestamp + 300));
  EXPECT_TRUE(verify_webhook(secret, msg_id, timestamp, body, expected, timestamp - 300));
}

TEST(VerifyWebhook, WrongSecretOrTamperedInput) {
  const std::string other = generate_webhook_secret();
  EXPECT_FALSE(verify_webhook(other, msg_id, timestamp, body, expected, timestamp));
  EXPECT_FALSE(
      verify_webhook(secret, msg_id, timestamp, R"({"test": 2432232315})", expected, timestamp));
  EXPECT_FALSE(
      verify_webhook(secret, msg_id, timestamp, R"({"test":2432232314})", expected, timestamp));
  EXPECT_FALSE(verify_webhook(secret, "msg_other", timestamp, body, expected, timestamp));
  EXPECT_FALSE(verify_webhook(secret, msg_id, timestamp + 1, body, expected, timestamp + 1));
  EXPECT_FALSE(verify_webhook("bogus", msg_id, timestamp, body, expected, timestamp));
}

TEST(VerifyWebhook, TimestampOutsideTolerance) {
  EXPECT_FALSE(verify_webhook(secret, msg_id, timestamp, body, expected, timestamp + 301));
  EXPECT_FALSE(verify_webhook(secret, msg_id, timestamp, body, expected, timestamp - 301));
  EXPECT_TRUE(verify_webhook(secret, msg_id, timestamp, body, expected, timestamp + 1000, 1000));
  EXPECT_FALSE(verify_webhook(secret, msg_id, timestamp, body, expected, timestamp + 1, 0));
  EXPECT_FALSE(verify_webhook(secret, msg_id, timestamp, body, expected, timestamp, -1));
  // Extreme values must not overflow into "close enough".
  EXPECT_FALSE(verify_webhook(secret, msg_id, INT64_MIN, body, expected, INT64_MAX));
  EXPECT_FALSE(verify_webhook(secret, msg_id, INT64_MAX, body, expected, INT64_MIN));
}

TEST(VerifyWebhook, SeveralSignaturesInHeader) {
  const std::string wrong = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  EXPECT_TRUE(verify_webhook(secret, msg_id, timestamp, body, wrong + " " + expected, timestamp));
  EXPECT_TRUE(verify_webhook(secret, msg_id, timestamp, body, std::string(expected) + " " + wrong,
                             timestamp));
  // Unknown versions are ignored, extra spaces tolerated.
  EXPECT_TRUE(verify_webhook(secret, msg_id, timestamp, body,
                             std::string("v1a,xyz  ") + expected + " ", timestamp));
  EXPECT_FALSE(verify_webhook(secret, msg_id, timestamp, body, wrong + " " + wrong, timestamp));
}

TEST(VerifyWebhook, MalformedHeader) {
  const std::string sig = std::string(expected).substr(3);
  for (const std::string& header :
       {std::string(), std::string(" "), sig, "v2," + sig, "v1" + sig, "v1:" + sig, "v1, " + sig,
        "v1," + sig + "x", "v1," + sig.substr(0, sig.size() - 1), std::string("v1,"),
        std::string("v1,,") + sig, std::string(expected) + ",extra"}) {
    EXPECT_FALSE(verify_webhook(secret, msg_id, timestamp, body, header, timestamp)) << header;
  }
}

}  // namespace
}  // namespace psig::domain
