#include "cli/inference_options.hpp"

namespace etcpipe::cli {

void add_inference_options(CLI::App* cmd, ClassificationConfig& o) {
  auto* inf = cmd->add_option_group("Inference");
  inf->add_option("-m,--model", o.model, "Model directory (model.json, labels.json, spec.json)")
      ->capture_default_str();
  inf->add_option_function<std::string>(
         "--device",
         [&o](const std::string& d) { o.infer.device = d == "cuda" ? Device::Cuda : Device::Cpu; },
         "Where the engines run: cpu, or cuda (TorchScript models, with a libtorch built with "
         "CUDA and a GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->default_str("cpu");
  inf->add_option("--max-delay-ms", o.infer.max_delay_ms,
                  "A complete row waits at most this long (wall clock) for its batch (" +
                      std::to_string(int(ClassifierConfig::kEnforcingMaxDelayMs)) +
                      " with --enforce)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  inf->add_option("--batch", o.infer.batch,
                  "Rows per inference batch (default: calibrated on the model at start)")
      ->check(CLI::Range(1, 4096));
  inf->add_option("--infer-threads", o.infer.threads,
                  "Inference threads (default: as many as the rate of rows needs, more while "
                  "batches queue up, up to the number of cores)")
      ->check(CLI::Range(1, 256));
  inf->add_option_function<float>(
         "--min-confidence", [&o](float p) { o.infer.min_confidence = p; },
         "Below this class probability the verdict is the model's catch-all class (default: "
         "the model's min_confidence in its model.json, 0 if it has none)")
      ->check(CLI::Range(0.0, 1.0));
  inf->add_option("--verdict-timeout", o.verdict_timeout,
                  "Classify a flow with the packets it has this many seconds (packet time) after "
                  "its first selected one, if it has not N by then; 0: wait for N packets or "
                  "the flow's end")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  inf->add_option("--feature-rows", o.feature_rows,
                  "Flows whose rows are being filled at once, per worker (default: one for "
                  "every flow the flow table holds, so that every flow can be classified; "
                  "memory is used only as rows are: N x 13 + 244 bytes a row, plus N x L with a "
                  "byte matrix); "
                  "a flow that finds every row in use is not classified (verdict_status "
                  "no-row)")
      ->check(CLI::Range(1u, 1u << 26));
}

}  // namespace etcpipe::cli
