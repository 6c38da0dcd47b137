#include "call_options.h"

#include "device.h"
#include "handles.h"

namespace pairloss_binding {

at::Tensor placed(const Napi::Value& value, at::Tensor t, const at::Device& device, bool copy) {
  if (t.device() != device) return pairloss::to_device(t, device);
  return copy && !is_handle(value) ? t.clone() : t;
}

}  // namespace pairloss_binding
