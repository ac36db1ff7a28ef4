// A pool of fixed-size KV cache pages with reference counts, and per-sequence page tables: the
// paged layout of the decode cache (FlashInfer's paged format: per sequence a list of page ids in
// position order and a length).
//
// Invariants:
// - A page holds kPageTokens consecutive positions of one sequence: position p of a sequence is
//   slot p % kPageTokens of page pages[p / kPageTokens], i.e. cache row
//   page * kPageTokens + slot, the same row in every layer (policy/decode.h: KvCache).
// - refcount[p] == 0 exactly when page p is on the free list; each page is on it at most once.
//   page_alloc hands out a page with count 1; page_ref adds a holder; page_unref drops one and
//   puts the page back on the free list when the count reaches 0. Unref of a free page (a double
//   free) or of an id outside [0, num_pages) stops with an error.
// - A page with more than one holder is read-only: a sequence that must write into a shared page
//   first copies it into a page of its own (policy/decode.h: cache_append_token). Only a prompt's
//   partially filled last page is ever written while shared: the G samples of a group copy its
//   filled slots on their first write, lazily, so the last holder writes in place (G-1 copies, not
//   G) and a sample that stops at its first token copies nothing. Copying slots of the latent
//   cache is cheaper than re-running the prompt's tail per sample and keeps the values bit-equal.
// - The pool is whole (page_pool_whole) when every page is free: what an idle engine must show.
#pragma once
#include <vector>

namespace aha {

constexpr int kPageTokens = 64;

struct KvPagePool {
  int num_pages = 0;
  std::vector<int> refcount;    // [num_pages]
  std::vector<int> free_pages;  // stack; handed out from the back, lowest page first
};

// The pages of one sequence in position order; len positions are filled (written or shared).
// pages.size() == ceil(len / kPageTokens) except transiently inside cache_append_token.
struct KvPageTable {
  std::vector<int> pages;
  int len = 0;
};

void page_pool_init(KvPagePool& pool, int num_pages);
// A free page with count 1, or -1 when none is free.
int page_alloc(KvPagePool& pool);
void page_ref(KvPagePool& pool, int page);
void page_unref(KvPagePool& pool, int page);
inline int page_pool_num_free(const KvPagePool& pool) {
  return static_cast<int>(pool.free_pages.size());
}
// Every page free, every count 0, the free list a permutation of all pages.
bool page_pool_whole(const KvPagePool& pool);

inline int pages_for_tokens(long tokens) {
  return static_cast<int>((tokens + kPageTokens - 1) / kPageTokens);
}
// The cache row of position pos of a sequence.
inline long page_table_row(const KvPageTable& t, int pos) {
  return static_cast<long>(t.pages[pos / kPageTokens]) * kPageTokens + pos % kPageTokens;
}

// dst becomes a second holder of src's pages (dst must be empty): src's pages gain one count.
void page_table_share(KvPagePool& pool, const KvPageTable& src, KvPageTable& dst);
// Drops the table's counts on its pages and empties it.
void page_table_release(KvPagePool& pool, KvPageTable& t);

}  // namespace aha
