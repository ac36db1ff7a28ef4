// Weights handed from the learner to rollout workers on its node without the wire: a worker
// copies the learner's parameters straight into its engine instead of fetching the version's
// bytes in checksummed chunks and copying them up.
// - Worker threads of the learner's process read its buffer (host or device memory): with
//   learner and engine on one GPU that is one device-to-device copy.
// - Worker processes the trainer started on its node read it through a descriptor file
//   (weights_handoff_share / weights_handoff_attach): a CUDA learner's parameters through a CUDA
//   IPC handle (a device-to-device copy, to another GPU of the node too), a CPU learner's through
//   a shared-memory copy of them.
//
// clang-format off
// Invariants:
// - A handoff offers at most one version at a time (version > 0, params set); 0 offers none.
// - weights_handoff_retract withdraws the offer and returns only after every copy that started
//   under it has finished, in this process (a shared mutex) and in the attached ones (flock on the
//   descriptor: shared while a reader copies, exclusive to offer or retract). The learner retracts
//   before it changes its buffer, so no worker ever reads half an update.
// - Except a reader process that holds its lock past stall_s (stopped mid-copy): the learner then
//   writes without the lock and goes on; every write moves the descriptor's generation on, and a
//   reader whose generation moved during its copy discards the copy (read: false, *torn set).
// - A reader copies only the version it asks for; anything else (none offered while the learner
//   updates, a newer version, another size) is a miss, and the worker fetches over the wire.
// - An offer's memory stays valid and unchanged until the next retract.
// - Failing to share (no shared memory, no IPC) never stops training: the descriptor then offers
//   nothing and attached workers use the wire.
// clang-format on
#pragma once
#include <cstdint>
#include <shared_mutex>
#include <string>

#include "kernels/device.h"

namespace aha {

struct WeightsHandoff {
  WeightsHandoff() = default;
  WeightsHandoff(const WeightsHandoff&) = delete;
  WeightsHandoff& operator=(const WeightsHandoff&) = delete;
  ~WeightsHandoff();  // closes the descriptor, shared memory and IPC mappings it opened

  std::shared_mutex mu;  // shared: a worker thread copying; exclusive: offer / retract
  uint64_t version = 0;
  const float* params = nullptr;  // [num_params] on `device`
  long num_params = 0;
  Device device = Device::kCpu;
  // The descriptor file (weights_handoff_share: the learner's side; _attach: a reader's).
  std::string path;
  int fd = -1;
  bool attached = false;  // reads go through the descriptor
  // Sharing (the learner) or reading (a worker) failed once (warned): no more tries, the wire.
  bool failed = false;
  // The learner's side: writes so far, how long it waits for a reader process's copy, and whether
  // the last write went on without one that held on (it then waits only a moment next time).
  uint64_t generation = 0;
  double stall_s = 20.0;
  bool forced = false;
  // A reader whose engine runs on the CPU leaves CUDA offers to the wire (opening one would make
  // a CUDA context on the learner's GPU in every such worker).
  bool accept_device = true;
  // Host weights in shared memory ([num_params] floats): the learner's copy, or a reader's map.
  std::string shm_name;
  void* shm = nullptr;
  size_t shm_bytes = 0;
  // A reader's mapping of the learner's CUDA allocation, and the handle it came from.
  void* ipc = nullptr;
  char ipc_handle[kCudaIpcHandleBytes] = {};
};

void weights_handoff_offer(WeightsHandoff& h, uint64_t version, const float* params,
                           long num_params, Device device);
void weights_handoff_retract(WeightsHandoff& h);

// Offers go to processes of this node too, through a descriptor created at path (owner-only).
// False (warned) when the descriptor cannot be made or locked there: nothing is shared.
bool weights_handoff_share(WeightsHandoff& h, const std::string& path);
// A worker process's side: reads the offers of the learner that shares at path (fails naming
// the path when it cannot be opened).
void weights_handoff_attach(WeightsHandoff& h, const std::string& path);

// Calls copy(ctx, params, device) with the offer held when `version` of num_params parameters is
// offered; returns whether it did and the copy stands. copy must have finished with the memory
// when it returns. A copy the learner did not wait for (see stall_s) is discarded: false with
// *torn set, and whatever copy wrote must not be used. An attached reader fails (an exception
// naming the descriptor) on a damaged descriptor or a mapping that cannot be opened, and from
// then on reads nothing (false).
bool weights_handoff_read(WeightsHandoff& h, uint64_t version, long num_params,
                          void (*copy)(void* ctx, const float* params, Device device), void* ctx,
                          bool* torn = nullptr);

}  // namespace aha
