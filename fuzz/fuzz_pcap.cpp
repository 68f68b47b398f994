// libFuzzer target: a whole capture file (pcap or pcapng, any byte order) read through
// libpcap and the flow pipeline, as `etcpipe flows` reads it.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "capture/pcap_source.hpp"
#include "pipeline/flow_pipeline.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/etcpipe-fuzz-pcap-" + std::to_string(getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);

  etcpipe::FlowPipelineConfig cfg;
  cfg.table.max_flows = 256;
  etcpipe::PcapFileSource source({path}, "", [](const std::string&) {});
  etcpipe::FlowPipeline pipeline(cfg);
  static etcpipe::PacketBatch batch;
  while (source.next_batch(batch)) {
    pipeline.process(batch);
    pipeline.finished().clear();
  }
  pipeline.flush();
  pipeline.finished().clear();
  std::remove(path.c_str());
  return 0;
}
