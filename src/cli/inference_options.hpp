// The options of a classifying run (etcpipe classify, etcpipe bench --model), into the
// session's ClassificationConfig.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "session/classification.hpp"

namespace etcpipe::cli {

// Registers --model (default: the bundled model, default_model_dir), --device, --max-delay-ms,
// --batch,
// --infer-threads, --min-confidence, --verdict-timeout and --feature-rows in an "Inference"
// group of `cmd`.
void add_inference_options(CLI::App* cmd, ClassificationConfig& o);

}  // namespace etcpipe::cli
