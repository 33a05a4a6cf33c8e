// Works around a caf_openssl 0.17.6 bug: one failed TLS handshake cut the other, healthy node
// links.
//
// OpenSSL's SSL_get_error() reads the calling thread's error queue and reports SSL_ERROR_SSL if
// anything is left there, and the OpenSSL manual says that queue must be empty before every
// TLS I/O call. caf_openssl runs every session on one multiplexer thread and never clears it. So
// after a refused peer (say, a node without a valid certificate) left errors in the queue, the
// next SSL_read on a good link that only meant "no data yet" was taken as fatal, and the link
// was closed. Checked here: each refused handshake dropped the only joined worker; with this
// file, none did (tests/e2e/cluster_itest.cpp, mutual TLS test).
//
// The executable defines the SSL I/O entry points that libcaf_openssl calls. The dynamic linker
// binds the library's calls to these definitions. Each one empties the queue and then calls
// OpenSSL's own function.

#include "actors/cluster/cluster.hpp"

#include <cstdio>
#include <cstdlib>
#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

template <class Fn> Fn next_symbol(const char* name) {
  auto* symbol = dlsym(RTLD_NEXT, name);
  if (!symbol) {
    // Without OpenSSL's own function nothing can work; say why instead of crashing later.
    std::fprintf(stderr, "imgproc: cannot find OpenSSL's %s (%s)\n", name, dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(symbol);
}

} // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = next_symbol<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real = next_symbol<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_accept(SSL* ssl) {
  static auto real = next_symbol<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  return real(ssl);
}

int SSL_connect(SSL* ssl) {
  static auto real = next_symbol<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

} // extern "C"

namespace imgproc {

void keep_tls_error_queue_guard() {}

} // namespace imgproc
