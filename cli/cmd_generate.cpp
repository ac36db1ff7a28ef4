// `aha generate`: sample a group of completions from a model directory, for people to read. The
// prompt goes through the same encode_prompt_ids as training (template, BOS, stop tokens).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/run/taskset.h"
#include "kernels/ops.h"
#include "policy/checkpoint.h"
#include "policy/tokenizer.h"
#include "rollout/engine.h"

namespace aha::cli {

namespace {

struct GenerateArgs {
  std::string model;
  std::string prompt;
  std::string chat_template;
  int n = 4;
  SamplingParams params;  // stop_token_ids come from the chat template
  uint64_t seed = 0;
  bool show_tokens = false;
  std::shared_ptr<std::string> device = std::make_shared<std::string>("cpu");
};

void cmd_generate(const GenerateArgs& a) {
  Model m;
  model_load(m, a.model);
  model_to_device(m, device_choose(*a.device));
  Tokenizer tok = tokenizer_load(a.model);
  const PromptFormat fmt = prompt_format(tok, m.cfg, a.chat_template);
  EngineRequest req;
  req.prompt = encode_prompt_ids(tok, m.cfg, fmt, a.prompt);
  if (req.prompt.empty()) throw std::runtime_error("--prompt encodes to no tokens");
  if (static_cast<long>(req.prompt.size()) >= m.cfg.max_position_embeddings)
    throw std::runtime_error("--prompt: " + std::to_string(req.prompt.size()) +
                             " tokens leave no room in the model's " +
                             std::to_string(m.cfg.max_position_embeddings) + " positions");
  if (static_cast<long>(req.prompt.size()) + a.params.max_new_tokens >
      m.cfg.max_position_embeddings)
    throw std::runtime_error("--max-new-tokens " + std::to_string(a.params.max_new_tokens) +
                             ": with the prompt's " + std::to_string(req.prompt.size()) +
                             " tokens it is over the model's " +
                             std::to_string(m.cfg.max_position_embeddings) + " positions");
  req.group_size = a.n;
  req.params = a.params;
  req.params.stop_token_ids = fmt.stop_ids;
  req.seed = a.seed;
  Engine e;
  EngineOptions opt;
  // Exactly the pages this one group may take.
  opt.max_tokens_in_flight =
      static_cast<int>(
          engine_group_pages(static_cast<int>(req.prompt.size()), a.n, a.params.max_new_tokens)) *
      kPageTokens;
  const PromptFormat raw;  // no stop ids: every token shown as it is
  for (int id = 0; id < m.cfg.vocab_size; id++) {
    const bool known = id < tok.vocab_size && !tok.id_token[id].empty();
    opt.token_text.push_back(known ? tokenizer_decode(tok, {id}) : "");  // padding rows: no text
  }
  engine_init(e, m, opt);
  engine_submit(e, req);
  std::vector<EngineResult> done;
  engine_run(e, done);
  // As fed: with the template's turn markers and BOS.
  std::printf("prompt (%zu tokens): %s\n", req.prompt.size(),
              tokenizer_decode(tok, req.prompt).c_str());
  for (size_t i = 0; i < done[0].samples.size(); i++) {
    const Sample& s = done[0].samples[i];
    double sum = 0;
    for (float lp : s.rollout_logp) sum += lp;
    std::printf("\n--- sample %zu: %zu tokens, finish %s, logp sum %.3f (mean %.3f)\n", i,
                s.completion.size(), s.finish_reason.c_str(), sum,
                s.completion.empty() ? 0.0 : sum / s.completion.size());
    std::printf("%s\n", completion_text(tok, raw, s.completion).c_str());
    if (a.show_tokens) {
      for (size_t t = 0; t < s.completion.size(); t++)
        std::printf("  %4zu  id %6d  logp %8.4f%s  %s\n", t, s.completion[t], s.rollout_logp[t],
                    s.trunc_logp.empty()
                        ? ""
                        : (" (truncated " + std::to_string(s.trunc_logp[t]) + ")").c_str(),
                    completion_text(tok, raw, {s.completion[t]}).c_str());
    }
  }
}

void add_generate(CLI::App& app) {
  auto* c = app.add_subcommand("generate", "Sample completions of a prompt from a model");
  auto a = std::make_shared<GenerateArgs>();
  c->add_option("--model", a->model, "Model directory")->required();
  c->add_option("--prompt", a->prompt, "Prompt text (the user message with --template)")
      ->required();
  c->add_option("--template", a->chat_template,
                "Chat template around the prompt (see README: Real models; default: none)");
  c->add_option("-n", a->n, "Samples (the group size G)")
      ->capture_default_str()
      ->check(in_range(1, 4096));
  c->add_option("--temperature", a->params.temperature)
      ->capture_default_str()
      ->check(in_range(1e-3, 100));
  c->add_option("--top-p", a->params.top_p)->capture_default_str()->check(in_range(1e-6, 1));
  c->add_option("--top-k", a->params.top_k)->capture_default_str()->check(in_range(0, 1 << 24));
  c->add_option("--min-p", a->params.min_p)->capture_default_str()->check(in_range(0, 0.999));
  c->add_option("--max-new-tokens", a->params.max_new_tokens)
      ->capture_default_str()
      ->check(in_range(1, 1 << 20));
  c->add_option("--seed", a->seed)->capture_default_str();
  add_rollout_device_option(c, a->device);
  c->add_option("--stop", a->params.stop_strings, "Stop strings");
  c->add_flag("--show-tokens", a->show_tokens, "Print every token with its log-prob");
  auto precision = std::make_shared<std::string>("fp32");
  add_gemm_precision_option(c, precision);
  c->callback([a, precision] {
    apply_gemm_precision(*precision, false);
    cmd_generate(*a);
  });
}

}  // namespace

AHA_COMMAND(add_generate);

}  // namespace aha::cli
