// Training checkpoints: everything a resumed run needs to continue exactly where it stopped.
// A checkpoint is a directory RUN_DIR/checkpoints/step-N holding model/ (HF layout), ref/ (when a
// reference model is used), optimizer.safetensors (AdamW moments by parameter name) and
// state.json (step, optimizer step, weight version, and the caller's extra fields, e.g. the data
// position). It is written under a temporary name and renamed into place, then RUN_DIR/checkpoints/
// latest (a one-line file, itself replaced atomically) names it; a crash leaves the previous
// checkpoint intact. Randomness is counter-based (seed, step), so no RNG state needs saving.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "learner/learner.h"

namespace aha {

// Writes the checkpoint of `step` and keeps the newest `keep` ones. Returns its directory.
std::string train_state_save(Learner& l, const std::string& run_dir, int step,
                             const nlohmann::json& extra, int keep = 2);
// The latest checkpoint directory of run_dir, or "" when there is none.
std::string train_state_latest(const std::string& run_dir);
// Loads a checkpoint into l (which must have been initialised with the same config); returns
// state.json.
nlohmann::json train_state_load(Learner& l, const std::string& ckpt_dir);
// state[key] as an integer in [0, max], else throws naming ckpt_dir's state.json and the field
// (nlohmann's at() and get<int>() name neither, and wrap or cast out-of-range numbers).
uint64_t train_state_counter(const nlohmann::json& state, const char* key, uint64_t max,
                             const std::string& ckpt_dir);

}  // namespace aha
