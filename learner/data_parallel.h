// The data-parallel learner's step protocol over a Collective (collective.h). Rank 0 runs the
// whole controller (generation, rewards, database, checkpoints, weight publishing); ranks > 0
// only train: per step rank 0 broadcasts the step's samples and every rank runs learner_update on
// its share (learner.h), so all ranks hold the same weights after every step.
//
// clang-format off
// Invariants:
// - Before the first step rank 0 broadcasts its whole learner state (weights, reference, AdamW
//   moments, optimiser step, weight version): a resumed run needs the checkpoint on rank 0 only.
// - Every rank sees the same command sequence: kUpdate (samples, refresh-reference flag) per
//   trained step, then one kStop. Ranks > 0 write no file.
// clang-format on
#pragma once
#include <vector>

#include "learner/collective.h"
#include "learner/learner.h"

namespace aha {

// Rank 0 sends its learner state; the other ranks receive it into theirs (same config).
void dp_sync_state(Learner& l, Collective& c);
// Rank 0: broadcast the step's samples, then update on rank 0's share.
UpdateMetrics dp_update(Learner& l, const std::vector<Sample>& samples, Collective& c,
                        bool refresh_ref);
// Rank 0: tell the other ranks the run is over.
void dp_stop(Collective& c);
// Ranks > 0: receive the state, then follow rank 0's commands until kStop. Returns 0.
int dp_follow(Learner& l, Collective& c);

// A step's samples as bytes and back (the broadcast format; throws on a short buffer).
std::vector<uint8_t> train_samples_to_bytes(const std::vector<Sample>& s);
std::vector<Sample> train_samples_from_bytes(const std::vector<uint8_t>& b);

}  // namespace aha
