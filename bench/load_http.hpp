#pragma once

// HTTP/1.1 as the load client (load_client.cpp) writes and reads it: the target of a plain
// http:// URL, one complete multipart upload per image built before the run, and the parsing of
// the responses that come back on a kept-alive connection.

#include <cstddef>
#include <string>
#include <vector>

namespace load {

struct target {
  std::string host;
  std::string port;
  std::string path;
};

/// Only http://HOST[:PORT][/PATH]; throws std::invalid_argument otherwise.
target parse_url(const std::string& url);

/// One complete request (head and multipart body) per image file, built before the run.
std::vector<std::string> build_requests(const std::vector<std::string>& images, const target& t);

/// What parse_response found in a connection's input.
struct response {
  enum class state { incomplete, complete, bad } result = state::incomplete;
  int status = 0;
  bool close = false;     ///< "Connection: close", or a body delimited by the end of the stream
  std::size_t length = 0; ///< bytes of the input this response takes
};

/// Parses the response at the start of `in`. `eof`: the peer closed the stream (ends a body
/// without Content-Length). Responses are small, so a partial one is parsed again from the start
/// when more bytes arrive.
response parse_response(const std::string& in, bool eof);

} // namespace load
