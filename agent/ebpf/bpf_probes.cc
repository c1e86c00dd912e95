#include "agent/ebpf/bpf_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gelf.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/ebpf/probe_bpf_object.h"
#include "agent/gobinary/go_binary.h"
#include "common/status.h"

namespace kdbg::ebpf {
namespace {

// libbpf's messages (the verifier log among them) go to the process-wide print callback; keep the
// last lines so a failed load can say why.
std::mutex g_log_mu;
std::string* g_log = new std::string();

int LibbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  // The verifier's log comes in one call and may be long: keep its end.
  std::vector<char> buf(1 << 20);
  int n = std::vsnprintf(buf.data(), buf.size(), fmt, args);
  std::lock_guard<std::mutex> lock(g_log_mu);
  g_log->append(buf.data(), n < 0 ? 0 : std::min<size_t>(static_cast<size_t>(n), buf.size() - 1));
  if (g_log->size() > (1 << 20)) g_log->erase(0, g_log->size() - (1 << 20));
  return 0;
}

std::string TakeLog() {
  std::lock_guard<std::mutex> lock(g_log_mu);
  std::string out;
  out.swap(*g_log);
  if (getenv("KDBG_EBPF_DEBUG") != nullptr) std::fputs(out.c_str(), stderr);
  // A verifier rejection: its last words come right before libbpf's end marker.
  absl::string_view s = absl::StripTrailingAsciiWhitespace(out);
  size_t end = s.find("-- END PROG LOAD LOG --");
  if (end != absl::string_view::npos) {
    absl::string_view v = absl::StripTrailingAsciiWhitespace(s.substr(0, end));
    size_t nl = v.rfind('\n');
    return absl::StrCat("verifier: ", nl == absl::string_view::npos ? v : v.substr(nl + 1));
  }
  // Otherwise the last non-empty line says most.
  size_t nl = s.rfind('\n');
  return std::string(nl == absl::string_view::npos ? s : s.substr(nl + 1));
}

absl::Status ErrnoStatus(int err, const std::string& what) {
  std::string msg = absl::StrCat(what, ": ", std::strerror(err));
  std::string log = TakeLog();
  if (!log.empty()) absl::StrAppend(&msg, " (libbpf: ", log, ")");
  if (err == EPERM || err == EACCES) {
    // Loading needs CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN); a uprobe through perf_event_open
    // needs CAP_SYS_ADMIN since the kernel change "perf: Require CAP_SYS_ADMIN for uprobes"
    // (2025, also in stable kernels): with CAP_PERFMON alone the kernel answers EACCES (measured
    // on Linux 6.18).
    return absl::PermissionDeniedError(absl::StrCat(
        msg,
        "; the eBPF engine needs CAP_SYS_ADMIN in the agent (current kernels refuse uprobes to "
        "CAP_PERFMON), or CAP_BPF and CAP_PERFMON on kernels before that change"));
  }
  return absl::UnavailableError(msg);
}

}  // namespace

absl::Status CheckNodeSupport() {
  if (::access("/sys/bus/event_source/devices/uprobe/type", R_OK) != 0) {
    return absl::UnavailableError(
        "this kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe missing: "
        "CONFIG_UPROBE_EVENTS off?); the eBPF engine cannot run on this node");
  }
  return absl::OkStatus();
}

struct BpfProbes::Impl {
  bpf_object* obj = nullptr;
  bpf_program* prog = nullptr;
  int probes_fd = -1;
  int state_fd = -1;
  int subops_fd = -1;
  int dispatch_fd = -1;
  ring_buffer* rb = nullptr;
  std::vector<bpf_link*> links = std::vector<bpf_link*>(KDBG_MAX_PROBES, nullptr);
  const std::function<void(const kdbg_record&, size_t)>* cb = nullptr;
  // Each record is copied here (aligned) and handed on with its size: only the bytes it has are
  // current, the rest are an earlier record's (callbacks read no further than the size).
  std::unique_ptr<kdbg_record> rec = std::make_unique<kdbg_record>();

  static int OnSample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<Impl*>(ctx);
    if (size < offsetof(kdbg_record, slots) || self->cb == nullptr) return 0;
    std::memcpy(self->rec.get(), data, std::min(size, sizeof(kdbg_record)));
    (*self->cb)(*self->rec, size);
    return 0;
  }

  ~Impl() {
    for (bpf_link*& l : links) {
      if (l != nullptr) bpf_link__destroy(l);
      l = nullptr;
    }
    if (rb != nullptr) ring_buffer__free(rb);
    if (obj != nullptr) bpf_object__close(obj);
  }
};

absl::StatusOr<std::unique_ptr<BpfProbes>> BpfProbes::Load(size_t ring_bytes,
                                                           uint32_t pending_calls, uint32_t subops,
                                                           uint32_t dispatch) {
  if (subops > KDBG_MAX_SUBOPS || dispatch > KDBG_MAX_DISPATCH) {
    return absl::ResourceExhaustedError(
        absl::StrCat(subops, " subprogram steps and ", dispatch, " dynamic types: over the ",
                     KDBG_MAX_SUBOPS, " and ", KDBG_MAX_DISPATCH, " the eBPF engine loads"));
  }
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(LibbpfPrint); });
  absl::Status support = CheckNodeSupport();
  if (!support.ok()) return support;
  std::unique_ptr<BpfProbes> p(new BpfProbes());
  p->impl_ = std::make_unique<Impl>();
  Impl& m = *p->impl_;
  LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "kdbg_probe");
  m.obj = bpf_object__open_mem(kProbeBpfObject, kProbeBpfObjectSize, &opts);
  if (m.obj == nullptr) return ErrnoStatus(errno, "open the embedded BPF object");
  bpf_map* events = bpf_object__find_map_by_name(m.obj, "events");
  if (events == nullptr) return absl::InternalError("BPF object has no events map");
  bpf_map__set_max_entries(events, static_cast<uint32_t>(ring_bytes));
  bpf_map* calls = bpf_object__find_map_by_name(m.obj, "calls");
  if (calls == nullptr) return absl::InternalError("BPF object has no calls map");
  bpf_map__set_max_entries(calls, pending_calls);
  // Array and hash maps take their memory when created: only what the plan fills (at least one).
  bpf_map* sub = bpf_object__find_map_by_name(m.obj, "subops");
  bpf_map* types = bpf_object__find_map_by_name(m.obj, "dispatch");
  if (sub == nullptr || types == nullptr) {
    return absl::InternalError("BPF object has no subops or dispatch map");
  }
  bpf_map__set_max_entries(sub, std::max<uint32_t>(subops, 1));
  bpf_map__set_max_entries(types, std::max<uint32_t>(dispatch, 1));
  if (int err = bpf_object__load(m.obj); err != 0) {
    return ErrnoStatus(-err, "load the BPF program (kernel >= 5.17 with BTF needed)");
  }
  m.prog = bpf_object__find_program_by_name(m.obj, "kdbg_probe");
  m.probes_fd = bpf_object__find_map_fd_by_name(m.obj, "probes");
  m.state_fd = bpf_object__find_map_fd_by_name(m.obj, "state");
  m.subops_fd = bpf_map__fd(sub);
  m.dispatch_fd = bpf_map__fd(types);
  if (m.prog == nullptr || m.probes_fd < 0 || m.state_fd < 0) {
    return absl::InternalError("BPF object lacks its program or maps");
  }
  m.rb = ring_buffer__new(bpf_map__fd(events), &Impl::OnSample, &m, nullptr);
  if (m.rb == nullptr) return ErrnoStatus(errno, "open the ring buffer");
  return p;
}

BpfProbes::~BpfProbes() = default;

absl::Status BpfProbes::Configure(uint32_t index, const kdbg_probe& probe) {
  if (index >= KDBG_MAX_PROBES) return absl::OutOfRangeError("probe index");
  if (bpf_map_update_elem(impl_->probes_fd, &index, &probe, BPF_ANY) != 0) {
    return ErrnoStatus(errno, "write the probe program");
  }
  kdbg_probe_state zero{};
  if (bpf_map_update_elem(impl_->state_fd, &index, &zero, BPF_ANY) != 0) {
    return ErrnoStatus(errno, "reset the probe state");
  }
  return absl::OkStatus();
}

absl::Status BpfProbes::ConfigureSubprograms(
    absl::Span<const kdbg_op> ops,
    absl::Span<const std::pair<kdbg_dispatch_key, kdbg_dispatch>> entries) {
  // One system call each, not one per op: a plan for `error` in a large service has thousands.
  std::vector<uint32_t> keys(ops.size());
  for (uint32_t i = 0; i < keys.size(); ++i) keys[i] = i;
  if (!ops.empty()) {
    auto count = static_cast<uint32_t>(ops.size());
    if (bpf_map_update_batch(impl_->subops_fd, keys.data(), ops.data(), &count, nullptr) != 0) {
      return ErrnoStatus(errno, "write the subprograms");
    }
    if (count != ops.size()) {
      return absl::InternalError(
          absl::StrCat("write the subprograms: ", count, " of ", ops.size(), " written"));
    }
  }
  if (!entries.empty()) {
    std::vector<kdbg_dispatch_key> k;
    std::vector<kdbg_dispatch> v;
    for (const auto& [key, value] : entries) {
      k.push_back(key);
      v.push_back(value);
    }
    auto count = static_cast<uint32_t>(k.size());
    if (bpf_map_update_batch(impl_->dispatch_fd, k.data(), v.data(), &count, nullptr) != 0) {
      return ErrnoStatus(errno, "write the dynamic types' subprograms");
    }
    if (count != k.size()) {
      return absl::InternalError(absl::StrCat("write the dynamic types' subprograms: ", count,
                                              " of ", k.size(), " written"));
    }
  }
  return absl::OkStatus();
}

absl::Status BpfProbes::Attach(uint32_t index, const std::string& binary, uint64_t file_offset,
                               pid_t pid) {
  if (index >= KDBG_MAX_PROBES) return absl::OutOfRangeError("probe index");
  LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = index, .retprobe = false);
  bpf_link* link = bpf_program__attach_uprobe_opts(impl_->prog, pid, binary.c_str(),
                                                   static_cast<size_t>(file_offset), &o);
  if (link == nullptr) {
    return ErrnoStatus(errno, absl::StrCat("attach a uprobe to ", binary, " at offset 0x",
                                           absl::Hex(file_offset)));
  }
  if (impl_->links[index] != nullptr) bpf_link__destroy(impl_->links[index]);
  impl_->links[index] = link;
  return absl::OkStatus();
}

void BpfProbes::Detach(uint32_t index) {
  if (index >= KDBG_MAX_PROBES || impl_->links[index] == nullptr) return;
  bpf_link__destroy(impl_->links[index]);
  impl_->links[index] = nullptr;
}

void BpfProbes::DetachAll() {
  for (uint32_t i = 0; i < KDBG_MAX_PROBES; ++i) Detach(i);
}

int BpfProbes::attached() const {
  int n = 0;
  for (bpf_link* l : impl_->links) n += l != nullptr;
  return n;
}

absl::StatusOr<int> BpfProbes::Poll(
    int timeout_ms, const std::function<void(const kdbg_record&, size_t)>& on_record) {
  impl_->cb = &on_record;
  int n = ring_buffer__poll(impl_->rb, timeout_ms);
  // The program wakes us only past a fill threshold: drain what else is there.
  int m = n >= 0 ? ring_buffer__consume(impl_->rb) : 0;
  impl_->cb = nullptr;
  if (n == -EINTR) return m < 0 ? 0 : m;
  if (n < 0) return ErrnoStatus(-n, "poll the ring buffer");
  if (m < 0) return ErrnoStatus(-m, "consume the ring buffer");
  return n + m;
}

absl::StatusOr<kdbg_probe_state> BpfProbes::State(uint32_t index) {
  kdbg_probe_state st{};
  if (bpf_map_lookup_elem(impl_->state_fd, &index, &st) != 0) {
    return ErrnoStatus(errno, "read the probe state");
  }
  return st;
}

absl::StatusOr<UniqueFd> OpenUprobeEvent(const std::string& exe, uint64_t file_offset, pid_t pid) {
  std::ifstream type_file("/sys/bus/event_source/devices/uprobe/type");
  int type = -1;
  if (!(type_file >> type)) return absl::UnavailableError("cannot read the uprobe PMU's type");
  perf_event_attr attr{};
  attr.size = sizeof(attr);
  attr.type = static_cast<uint32_t>(type);
  attr.config1 = reinterpret_cast<uint64_t>(exe.c_str());  // uprobe path
  attr.config2 = file_offset;                              // uprobe offset
  long fd = ::syscall(SYS_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ESRCH) return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
    return ErrnoStatus(
        err, absl::StrCat("place a uprobe on ", exe, " at offset 0x", absl::Hex(file_offset)));
  }
  return UniqueFd(static_cast<int>(fd));
}

absl::Status ClearUprobe(const std::string& exe, uint64_t file_offset, pid_t pid) {
  KDBG_RETURN_IF_ERROR(CheckNodeSupport());
  absl::StatusOr<UniqueFd> fd = OpenUprobeEvent(exe, file_offset, pid);
  if (!fd.ok()) {
    if (absl::IsNotFound(fd.status())) return fd.status();
    return absl::Status(fd.status().code(), absl::StrCat(fd.status().message(), " to clear it"));
  }
  return absl::OkStatus();  // closed here: the registration's clean removal
}

absl::Status SelfTest() {
  static const absl::Status* const kResult = [] {
    // Loading alone proves little: the kernel checks the uprobe's own permission at attach.
    absl::StatusOr<std::unique_ptr<BpfProbes>> probes = BpfProbes::Load(4096);
    if (!probes.ok()) return new absl::Status(probes.status());
    // The entry point of this very executable: an instruction boundary, run once at start-up
    // and never again. The probe is for this process only and is removed at once.
    const std::string self = "/proc/self/exe";
    absl::StatusOr<std::unique_ptr<gobinary::GoBinary>> bin = gobinary::GoBinary::Open(self);
    if (!bin.ok()) return new absl::Status(bin.status());
    GElf_Ehdr ehdr;
    if (gelf_getehdr((*bin)->elf(), &ehdr) == nullptr) {
      return new absl::Status(absl::InternalError("cannot read the agent's own ELF header"));
    }
    absl::StatusOr<uint64_t> offset = (*bin)->CodeFileOffset(ehdr.e_entry);
    if (!offset.ok()) return new absl::Status(offset.status());
    absl::Status attached = (*probes)->Attach(0, self, *offset, ::getpid());
    (*probes)->DetachAll();
    return new absl::Status(attached);
  }();
  return *kResult;
}

}  // namespace kdbg::ebpf
