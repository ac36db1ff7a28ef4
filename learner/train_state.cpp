#include "learner/train_state.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "kernels/json_depth.h"
#include "kernels/user_input.h"
#include "policy/checkpoint.h"
#include "policy/hf_checkpoint.h"

namespace aha {

namespace fs = std::filesystem;

namespace {

void write_text_atomic(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    if (!f) throw std::runtime_error(tmp + ": cannot write");
    f << text;
    f.flush();
    if (!f) throw std::runtime_error(tmp + ": write failed");
  }
  fs::rename(tmp, path);
}

std::vector<StWriteTensor> moments(const Learner& l) {
  std::vector<StWriteTensor> out;
  for (const TensorSpec& s : l.policy.specs) {
    for (int k = 0; k < 2; k++) {
      const std::vector<float>& buf = k == 0 ? l.adam_m : l.adam_v;
      StWriteTensor t;
      t.name = s.name + (k == 0 ? ".exp_avg" : ".exp_avg_sq");
      t.dtype = "F32";
      t.shape = s.shape;
      t.data = buf.data() + s.offset;
      t.nbytes = static_cast<size_t>(s.numel) * sizeof(float);
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace

std::string train_state_save(Learner& l, const std::string& run_dir, int step,
                             const nlohmann::json& extra, int keep) {
  learner_sync_host(l);  // a CUDA learner's AdamW state lives on the device
  const std::string root = run_dir + "/checkpoints";
  fs::create_directories(root);
  const std::string name = "step-" + std::to_string(step);
  const std::string final_dir = root + "/" + name, tmp_dir = root + "/" + name + ".tmp";
  fs::remove_all(tmp_dir);
  model_save(l.policy, tmp_dir + "/model");
  if (l.cfg.need_ref) model_save(l.ref, tmp_dir + "/ref");
  hf_save(tmp_dir + "/optimizer", moments(l), SIZE_MAX, "F32");
  nlohmann::json state = extra;
  state["step"] = step;
  state["optimizer_step"] = l.step;
  state["weight_version"] = l.policy.version;
  write_text_atomic(tmp_dir + "/state.json", state.dump(2) + "\n");
  fs::remove_all(final_dir);
  fs::rename(tmp_dir, final_dir);
  write_text_atomic(root + "/latest", name + "\n");
  // Prune older checkpoints, newest `keep` stay.
  std::vector<std::pair<int, std::string>> all;
  for (const auto& e : fs::directory_iterator(root)) {
    // Only our own step-N: a user's "step-3-backup" is neither pruned nor a number to parse.
    const std::string n = e.path().filename().string();
    const std::string digits = n.rfind("step-", 0) == 0 ? n.substr(5) : "";
    if (e.is_directory() && !digits.empty() && digits.size() <= 9 &&
        digits.find_first_not_of("0123456789") == std::string::npos)
      all.push_back({std::stoi(digits), e.path().string()});
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + keep < all.size(); i++) fs::remove_all(all[i].second);
  return final_dir;
}

std::string train_state_latest(const std::string& run_dir) {
  std::ifstream f(run_dir + "/checkpoints/latest");
  std::string name;
  if (!f || !(f >> name)) return "";
  std::string dir = run_dir + "/checkpoints/" + name;
  if (!fs::is_directory(dir))
    throw std::runtime_error(run_dir + "/checkpoints/latest names " + name +
                             ", which does not exist");
  return dir;
}

uint64_t train_state_counter(const nlohmann::json& state, const char* key, uint64_t max,
                             const std::string& ckpt_dir) {
  auto it = state.find(key);
  if (it == state.end())
    throw std::runtime_error(ckpt_dir + "/state.json: missing field '" + key + "'");
  if (!it->is_number_unsigned() || it->get<uint64_t>() > max)
    throw std::runtime_error(ckpt_dir + "/state.json: field '" + key + "' = " + it->dump() +
                             " is not an integer in [0, " + std::to_string(max) + "]");
  return it->get<uint64_t>();
}

nlohmann::json train_state_load(Learner& l, const std::string& ckpt_dir) {
  std::ifstream f = open_input(ckpt_dir + "/state.json");
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string text = ss.str();
  json_check_depth(text, ckpt_dir + "/state.json");
  nlohmann::json state;
  try {
    state = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw std::runtime_error(ckpt_dir + "/state.json: " + aha::json_error_text(e.what()));
  }
  if (!state.is_object()) throw std::runtime_error(ckpt_dir + "/state.json: not a JSON object");
  // Checked before the weights load so that a corrupt file fails at once, naming the field.
  const int optimizer_step =
      static_cast<int>(train_state_counter(state, "optimizer_step", INT_MAX, ckpt_dir));
  const uint64_t weight_version =
      train_state_counter(state, "weight_version", UINT64_MAX, ckpt_dir);
  train_state_counter(state, "step", INT_MAX, ckpt_dir);
  Model m;
  model_load(m, ckpt_dir + "/model");
  if (m.num_params != l.policy.num_params)
    throw std::runtime_error(ckpt_dir + "/model: a different model than the run's config");
  l.policy.params.copy_from(m.params);
  if (l.cfg.need_ref) {
    Model r;
    model_load(r, ckpt_dir + "/ref");
    l.ref.params.copy_from(r.params);
  }
  HfCheckpoint ck = hf_open(ckpt_dir + "/optimizer");
  for (const TensorSpec& s : l.policy.specs) {
    hf_load_f32(ck, s.name + ".exp_avg", s.shape, l.adam_m.data() + s.offset);
    hf_load_f32(ck, s.name + ".exp_avg_sq", s.shape, l.adam_v.data() + s.offset);
  }
  l.step = optimizer_step;
  l.policy.version = weight_version;
  l.cuda.stale = true;  // a CUDA learner uploads the loaded state before its next update
  return state;
}

}  // namespace aha
