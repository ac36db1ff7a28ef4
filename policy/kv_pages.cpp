#include "policy/kv_pages.h"

#include <string>

#include "kernels/check.h"

namespace aha {

namespace {

void check_page(const KvPagePool& pool, int page, const char* what) {
  AHA_CHECK(page >= 0 && page < pool.num_pages, std::string(what) + ": page " +
                                                    std::to_string(page) + " out of range [0, " +
                                                    std::to_string(pool.num_pages) + ")");
}

}  // namespace

void page_pool_init(KvPagePool& pool, int num_pages) {
  AHA_CHECK(num_pages >= 0, "page_pool_init: negative page count");
  pool.num_pages = num_pages;
  pool.refcount.assign(num_pages, 0);
  pool.free_pages.clear();
  for (int p = num_pages - 1; p >= 0; p--) pool.free_pages.push_back(p);
}

int page_alloc(KvPagePool& pool) {
  if (pool.free_pages.empty()) return -1;
  const int p = pool.free_pages.back();
  pool.free_pages.pop_back();
  pool.refcount[p] = 1;
  return p;
}

void page_ref(KvPagePool& pool, int page) {
  check_page(pool, page, "page_ref");
  AHA_CHECK(pool.refcount[page] > 0,
            "page_ref: page " + std::to_string(page) + " is free (no holder to share it)");
  pool.refcount[page]++;
}

void page_unref(KvPagePool& pool, int page) {
  check_page(pool, page, "page_unref");
  AHA_CHECK(pool.refcount[page] > 0,
            "page_unref: page " + std::to_string(page) + " is already free (double free)");
  if (--pool.refcount[page] == 0) pool.free_pages.push_back(page);
}

bool page_pool_whole(const KvPagePool& pool) {
  if (static_cast<int>(pool.free_pages.size()) != pool.num_pages) return false;
  std::vector<char> seen(pool.num_pages, 0);
  for (int p : pool.free_pages) {
    if (p < 0 || p >= pool.num_pages || seen[p]) return false;
    seen[p] = 1;
  }
  for (int c : pool.refcount)
    if (c != 0) return false;
  return true;
}

void page_table_share(KvPagePool& pool, const KvPageTable& src, KvPageTable& dst) {
  AHA_CHECK(dst.pages.empty() && dst.len == 0, "page_table_share: the destination is not empty");
  for (int p : src.pages) page_ref(pool, p);
  dst.pages = src.pages;
  dst.len = src.len;
}

void page_table_release(KvPagePool& pool, KvPageTable& t) {
  for (int p : t.pages) page_unref(pool, p);
  t.pages.clear();
  t.len = 0;
}

}  // namespace aha
