#include "group_protocol.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace pairloss {

namespace {

constexpr int64_t kMagic = 0x706c6f7373;  // "ploss"
constexpr int kMaxDims = 8;
constexpr int kLabelSlots = 8;    // 64 bytes of label
constexpr int kReasonSlots = 16;  // 128 bytes of reason
constexpr int kReasonAt = 7 + kMaxDims + kLabelSlots;
static_assert(kHeaderLength == kReasonAt + kReasonSlots, "header layout");

// `text` into `slots` int64s at `h` (zero-padded, cut at a UTF-8 boundary).
void put_text(int64_t* h, int slots, const std::string& text) {
  size_t n = std::min(text.size(), sizeof(int64_t) * slots);
  if (n < text.size()) {
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  }
  std::memcpy(h, text.data(), n);
}

std::string get_text(const int64_t* h, int slots) {
  const char* text = reinterpret_cast<const char*>(h);
  return std::string(text, strnlen(text, sizeof(int64_t) * slots));
}

}  // namespace

std::vector<int64_t> Header::encode() const {
  std::vector<int64_t> h(kHeaderLength, 0);
  h[0] = kMagic;
  h[1] = sequence;
  h[2] = static_cast<int64_t>(kind);
  h[3] = arg;
  h[4] = static_cast<int64_t>(dtype);
  h[5] = static_cast<int64_t>(sizes.size());
  uint64_t hash = 1469598103934665603ULL;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i < kMaxDims) h[6 + i] = sizes[i];
    hash = (hash ^ static_cast<uint64_t>(sizes[i])) * 1099511628211ULL;
  }
  h[6 + kMaxDims] = static_cast<int64_t>(hash);
  put_text(&h[7 + kMaxDims], kLabelSlots, label);
  put_text(&h[kReasonAt], kReasonSlots, reason);
  return h;
}

Header Header::decode(const int64_t* h) {
  Header d;
  d.sequence = h[1];
  d.kind = static_cast<Kind>(h[2]);
  d.arg = h[3];
  d.dtype = static_cast<at::ScalarType>(h[4]);
  for (int64_t i = 0; i < std::min<int64_t>(h[5], kMaxDims); ++i) d.sizes.push_back(h[6 + i]);
  d.label = get_text(&h[7 + kMaxDims], kLabelSlots);
  d.reason = get_text(&h[kReasonAt], kReasonSlots);
  return d;
}

std::string Header::describe() const {
  std::string s = label;
  if (kind == Kind::Rejected) return s + " rejected its arguments (" + reason + ")";
  if (kind == Kind::AllReduce) s += "(" + std::string(reduce_op_name(static_cast<ReduceOp>(arg))) + ")";
  if (kind == Kind::Broadcast) s += " from rank " + std::to_string(arg);
  if (kind != Kind::Barrier) s += " " + dtype_name(dtype) + " " + shape_string(sizes);
  return s;
}

Agreement compare_headers(const std::vector<int64_t>& mine, const std::vector<const int64_t*>& headers,
                          const std::vector<int>& ranks) {
  Agreement a;
  std::vector<Header> all;
  for (const int64_t* h : headers) {
    all.push_back(Header::decode(h));
    if (h[0] != kMagic) a.agree = false;
    if (h[1] != mine[1]) a.in_step = false;
    if (!std::equal(h + 2, h + kHeaderLength, mine.begin() + 2)) a.agree = false;
  }
  if (!a.in_step) a.agree = false;
  if (a.agree) return a;
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].kind == Kind::Rejected) {
      a.rejected += (a.rejected.empty() ? "" : "; ") + std::string("rank ") + std::to_string(ranks[i]) + " (" +
                    all[i].reason + ")";
    }
    a.list += (i ? "; " : "") + std::string("rank ") + std::to_string(ranks[i]) + ": " + all[i].describe();
    if (!a.in_step) a.list += " (collective #" + std::to_string(all[i].sequence) + ")";
  }
  return a;
}

std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    default: return c10::toString(t);
  }
}

std::string shape_string(c10::IntArrayRef sizes) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < sizes.size(); ++i) s << (i ? ", " : "") << sizes[i];
  s << "]";
  return s.str();
}

const char* reduce_op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Avg: return "avg";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
    case ReduceOp::Product: return "product";
  }
  return "?";
}

}  // namespace pairloss
