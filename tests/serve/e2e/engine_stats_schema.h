// The documented schema of the engine snapshot (docs/serving.md, "Engine stats"), checked field by
// field with gtest expectations: GET /v1/engine/stats answers it, GET /v1/engine/events pushes it.
#pragma once

#include "server_process.h"

namespace tessera::serve_test {

// Every documented field with its JSON type, and in_use + free == total.
void expect_schema(const Json& stats);

}  // namespace tessera::serve_test
