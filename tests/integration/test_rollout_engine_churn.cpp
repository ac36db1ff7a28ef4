// No page leaks after 10,000 random requests through the engine, cancelled ones included (the
// unit test runs the same churn with fewer requests under the sanitizers).
#include <doctest/doctest.h>

#include "tests/unit/engine_churn.h"

TEST_CASE("no page leaks after 10,000 requests with cancellations") {
  aha::test::engine_churn(10000, 5);
}
