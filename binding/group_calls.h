// What the losses use of binding/process_group.cc.
#pragma once

#include <napi.h>

#include <memory>

#include "async_call.h"
#include "process_group.h"

namespace pairloss_binding {

// The group behind a `group` option: a TypeError for anything but a process
// group handle, an Error for one that can no longer be used.
std::shared_ptr<pairloss::ProcessGroup> process_group_from_js(const Napi::Value& value, const char* name);

// Queues an AsyncCall of `work` and `finish` to the group's own thread, after
// everything queued to it before (the collectives' call order), and returns
// its Promise.
Napi::Promise start_group_call(Napi::Env env, const std::shared_ptr<pairloss::ProcessGroup>& group,
                               AsyncCall::Work work, AsyncCall::Finish finish);

}  // namespace pairloss_binding
