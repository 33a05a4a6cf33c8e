#pragma once

namespace imgproc {

/// The reason phrase of an HTTP status line, for both services' responses.
const char* reason_phrase(int status);

} // namespace imgproc
