#include "agent/ebpf/itab_types.h"

#include <algorithm>
#include <cstring>

namespace kdbg::ebpf {

const DynamicType* ItabTypes::Lookup(uint64_t itab) {
  if (itab == 0) return nullptr;
  if (auto it = known_.find(itab); it != known_.end()) {
    return it->second.has_value() ? &*it->second : nullptr;
  }
  std::optional<DynamicType> found;
  auto word = proc_.ReadMemory(pid_, itab + 8, 8);  // ITab.Type
  if (word.ok() && word->size() == 8) {
    uint64_t type = 0;
    std::memcpy(&type, word->data(), 8);
    if (!types_.has_value()) {
      auto loaded = load_();
      types_ = loaded.ok() ? *std::move(loaded) : std::vector<gobinary::RuntimeType>{};
    }
    auto it = std::lower_bound(
        types_->begin(), types_->end(), type,
        [&](const gobinary::RuntimeType& r, uint64_t a) { return r.address + bias_ < a; });
    if (it != types_->end() && it->address + bias_ == type) {
      found = DynamicType{itab, it->name, it->kind};
    }
  }
  auto& slot = known_[itab];
  slot = std::move(found);
  return slot.has_value() ? &*slot : nullptr;
}

void ItabTypes::Trim() {
  if (known_.size() >= kMaxItabs) known_.clear();
}

}  // namespace kdbg::ebpf
