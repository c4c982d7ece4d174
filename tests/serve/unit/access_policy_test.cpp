// AccessPolicy: the API key, the Host check against DNS rebinding and CORS origins.
#include "serve/access_policy.h"

#include <gtest/gtest.h>

namespace tessera::serve {
namespace {

TEST(AccessPolicy, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(constant_time_equals("sekret", "sekret"));
  EXPECT_FALSE(constant_time_equals("sekreT", "sekret"));
  EXPECT_FALSE(constant_time_equals("sekret-and-more", "sekret"));
  EXPECT_FALSE(constant_time_equals("sek", "sekret"));
  EXPECT_FALSE(constant_time_equals("", "sekret"));
  EXPECT_TRUE(constant_time_equals("", ""));
}

TEST(AccessPolicy, TheKeyMustBeABearerTokenWhenOneIsSet) {
  const AccessPolicy open("", "127.0.0.1", {});
  EXPECT_TRUE(open.key_ok(""));
  const AccessPolicy locked("k1", "127.0.0.1", {});
  EXPECT_TRUE(locked.key_ok("Bearer k1"));
  EXPECT_FALSE(locked.key_ok("Bearer k2"));
  EXPECT_FALSE(locked.key_ok("k1"));
  EXPECT_FALSE(locked.key_ok(""));
}

TEST(AccessPolicy, LoopbackServersAcceptOnlyLoopbackHostNames) {
  AccessPolicy policy("", "127.0.0.1", {});
  policy.set_port(8080);
  EXPECT_TRUE(policy.host_ok("127.0.0.1:8080"));
  EXPECT_TRUE(policy.host_ok("localhost:8080"));
  EXPECT_TRUE(policy.host_ok("LOCALHOST"));
  EXPECT_TRUE(policy.host_ok("[::1]:8080"));
  EXPECT_FALSE(policy.host_ok("evil.example.com:8080")) << "DNS rebinding";
  EXPECT_FALSE(policy.host_ok("127.0.0.1:9999"));
  EXPECT_FALSE(policy.host_ok(""));
}

TEST(AccessPolicy, AnyHostWhenListeningOnEveryAddress) {
  AccessPolicy policy("", "0.0.0.0", {});
  policy.set_port(8080);
  EXPECT_TRUE(policy.host_ok("anything.example.com"));
  AccessPolicy lan("", "192.168.1.5", {});
  lan.set_port(80);
  EXPECT_TRUE(lan.host_ok("192.168.1.5"));
  EXPECT_FALSE(lan.host_ok("localhost"));
}

TEST(AccessPolicy, NoCrossSiteOriginIsAllowedByDefault) {
  const AccessPolicy none("", "127.0.0.1", {});
  EXPECT_TRUE(none.origin_ok("")) << "no Origin: not a cross-site browser request";
  EXPECT_FALSE(none.origin_ok("https://evil.example.com"));
  EXPECT_FALSE(none.cors_enabled());
  const AccessPolicy some("", "127.0.0.1", {"https://app.example.com"});
  EXPECT_TRUE(some.origin_ok("https://app.example.com"));
  EXPECT_FALSE(some.origin_ok("https://app.example.com.evil.net"));
  EXPECT_TRUE(AccessPolicy("", "127.0.0.1", {"*"}).origin_ok("https://x.org"));
}

TEST(AccessPolicy, TheServersOwnPagesAreSameOrigin) {
  const AccessPolicy none("", "127.0.0.1", {});
  EXPECT_TRUE(none.origin_ok("http://127.0.0.1:8080", "127.0.0.1:8080")) << "the chat page's own fetches";
  EXPECT_FALSE(none.origin_ok("http://127.0.0.1:9999", "127.0.0.1:8080"));
  EXPECT_FALSE(none.origin_ok("https://127.0.0.1:8080", "127.0.0.1:8080")) << "not the scheme it serves";
  EXPECT_FALSE(none.origin_ok("http://127.0.0.1:8080.evil.net", "127.0.0.1:8080"));
  EXPECT_FALSE(none.origin_ok("http://evil.example.com", ""));
}

}  // namespace
}  // namespace tessera::serve
