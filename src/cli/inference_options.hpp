// The options of a classifying run (etcpipe classify, etcpipe bench --model), into the
// session's ClassificationConfig.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "session/classification.hpp"

namespace etcpipe::cli {

// The bundled model: the source tree's when it is there, else the installed copy
// (PREFIX/share/etcpipe/models/default beside PREFIX/bin/etcpipe).
std::string default_model_dir();

// Registers --model (default: the bundled model), --device, --max-delay-ms, --batch,
// --infer-threads, --min-confidence, --verdict-timeout and --feature-rows in an "Inference"
// group of `cmd`.
void add_inference_options(CLI::App* cmd, ClassificationConfig& o);

}  // namespace etcpipe::cli
