// Inline mode, a bump in the wire (-i A --inline-to B): etcpipe's XDP program on both ports
// forwards every frame to the other one (a devmap redirect, both ways) and enforces the
// verdicts there; the frames of flows without a drop or bypass verdict are also copied, up to
// ETCPIPE_COPY_MAX bytes, into a BPF ring buffer, which this source reads. The original is
// forwarded at once: user space never holds traffic up. A copy that finds the ring full is
// counted as a kernel drop, and its frame forwarded anyway (fail-open) or dropped
// (fail-closed, ETCPIPE_MODE_FAIL_CLOSED).
//
// One source: the ring is one (the run has one worker). Copies are stamped by the kernel
// when their frame arrived (CLOCK_MONOTONIC, turned into the wall clock). The BPF expression
// runs in user space on the copies.
#pragma once

#include <memory>
#include <string>

#include "capture/live_capture.hpp"
#include "capture/xdp_program.hpp"

namespace etcpipe {

// Attaches `xdp` (loaded with ETCPIPE_MODE_INLINE) to cfg.interfaces[0] and `other`, joins
// them, and returns the source of the copies. Throws std::runtime_error with the reason.
std::unique_ptr<PacketSource> open_inline_source(const LiveCaptureConfig& cfg,
                                                 const std::string& other, XdpProgram& xdp);

}  // namespace etcpipe
