// No page leaks after 10,000 random requests through the engine, cancelled ones included (the
// unit test runs the same churn with fewer requests under the sanitizers).
#include <doctest/doctest.h>

#include "tests/unit/engine_churn.h"

TEST_CASE("no page leaks after 10,000 requests with cancellations") {
  constexpr long N = 10000;
  const aha::test::ChurnResult r = aha::test::engine_churn(N, 5);
  INFO("finished ", r.num_finished, ", cancelled waiting ", r.num_cancelled_waiting, ", in flight ",
       r.num_cancelled_in_flight, ", free pages ", r.free_pages, " of ", r.num_pages);
  CHECK(r.num_still_live == 0);
  CHECK(r.num_finished + r.num_cancelled_waiting + r.num_cancelled_in_flight == N);
  CHECK(r.num_cancelled_waiting > 0);
  CHECK(r.num_cancelled_in_flight > 0);
  CHECK(r.max_waiting > 0);  // the pool, not the arrivals, bounded admission
  CHECK(r.reserved_pages == 0);
  CHECK(r.free_pages == r.num_pages);
  CHECK(r.pool_whole);
}
