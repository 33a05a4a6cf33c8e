#pragma once

// A throwaway PKI for the mutual-TLS tests, made at test time with the `openssl` command in a
// fresh directory under /tmp that is removed when the object goes away:
//
//   ca.pem / ca.key          the cluster's CA
//   node.pem / node.key      signed by the CA (e.g. the gateway)
//   other.pem / other.key    signed by the CA (e.g. a worker)
//   rogue.pem / rogue.key    self-signed: a certificate the CA never signed

#include <string>

namespace imgproc::testing {

struct test_pki {
  std::string dir;
  std::string ca; ///< the CA certificate (PEM), for --cluster-ca
  std::string node_cert, node_key;
  std::string other_node_cert, other_node_key;
  std::string rogue_cert, rogue_key;

  test_pki() = default;
  test_pki(test_pki&& other) noexcept;
  test_pki& operator=(test_pki&& other) noexcept;
  test_pki(const test_pki&) = delete;
  test_pki& operator=(const test_pki&) = delete;
  /// Removes `dir` and everything in it.
  ~test_pki();
};

/// Makes the CA and the three certificates (RSA 2048, 30 days). Throws std::runtime_error,
/// quoting openssl's output, if a command fails.
test_pki make_test_pki();

} // namespace imgproc::testing
