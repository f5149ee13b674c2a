#pragma once
#include <string>

namespace psig::app {

// `projectsignal receive`: a local webhook receiver for development and the README tour. It
// listens on `listen` (host:port), verifies each POST's Standard Webhooks signature with
// `secret`, prints one line per request, and answers 204 (valid) or 400 (invalid).
int run_receiver(const std::string& listen, const std::string& secret);

}  // namespace psig::app
