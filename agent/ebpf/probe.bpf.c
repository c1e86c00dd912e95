// The one BPF program behind every kdbg uprobe. Attached to each probe address with the probe's
// index as its BPF cookie; runs the probe's read-step program (probe_abi.h) over the saved
// registers and the target's memory and writes one record per hit to the ring buffer. It never
// writes to the target. Compiled by clang at build time and embedded in the agent (bpf_probes.cc).
#define __KDBG_BPF__ 1
// Order matters: the kernel's types before libbpf's helper declarations.
// clang-format off
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
// clang-format on

#include "probe_abi.h"

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, KDBG_MAX_PROBES);
  __type(key, __u32);
  __type(value, struct kdbg_probe);
} probes SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, KDBG_MAX_PROBES);
  __type(key, __u32);
  __type(value, struct kdbg_probe_state);
} state SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct kdbg_record);
} scratch SEC(".maps");

// Subprograms (probe_abi.h, KDBG_OP_CALL): their ops, and which one prints a dynamic type.
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, KDBG_MAX_SUBOPS);
  __type(key, __u32);
  __type(value, struct kdbg_op);
} subops SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, KDBG_MAX_DISPATCH);
  __type(key, struct kdbg_dispatch_key);
  __type(value, struct kdbg_dispatch);
} dispatch SEC(".maps");

// The calls of conditional tracepoints whose returns are awaited (probe_abi.h, kdbg_track).
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, KDBG_MAX_CALLS);
  __type(key, struct kdbg_call_key);
  __type(value, __u8);
} calls SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 << 20);  // replaced by the loader
} events SEC(".maps");

// Wake the consumer each time another this much is waiting; it also polls with a short timeout,
// which bounds the delay of an event that no wake-up follows.
const volatile __u64 wakeup_bytes = 256 << 10;

// The interpreter's state at a hit, in a per-CPU map value rather than on the stack: the verifier
// tracks what a program keeps on its stack value by value, and the many combinations of these
// fields across the op switch multiplied the states it explored (and the time to load) several
// times over; a map value's fields it takes as unknown.
struct run_state {
  __u64 regs[KDBG_NREGS + 3];  // struct pt_regs's KDBG_NREGS words, KDBG_REG_DATA, zeros
  __u64 acc;
  __u32 status;  // of the current alternative: OK while it runs
  __u32 skip;    // the current alternative is skipped (slot already filled) or has failed
  __u32 slot;
  __u32 pc;     // the next op: the probe's below KDBG_MAX_OPS, a subprogram's from there
  __u32 base;   // slots are counted from here (a subprogram's region)
  __u32 depth;  // CALLs, EACHs and MAPs in progress
  __u32 heap;   // the record's next slot free for elements (EACH, MAP), from the probe's nused on
  // Where each CALL, EACH or MAP in progress returns to: its caller's next op (right after the
  // op), base and data word; and, for an EACH or MAP, the elements left to read after this one.
  __u32 ret_pc[KDBG_MAX_CALL_DEPTH];
  __u32 ret_base[KDBG_MAX_CALL_DEPTH];
  __u64 ret_data[KDBG_MAX_CALL_DEPTH];
  __u32 left[KDBG_MAX_CALL_DEPTH];
  // The map whose entries a MAP is finding (while m_scan; one at a time: a MAP in a map's entries
  // runs after its own map's entries were all found): its directory (or its one group), the last
  // table looked at (a directory repeats a table's pointer in consecutive entries), that table's
  // groups, and how many entries were found of m_max, their addresses in m_addrs[depth], the
  // frame their subprogram will run in.
  __u64 m_dir;
  __u64 m_table;
  __u64 m_data;
  __u32 m_dirlen;
  __u32 m_diri;
  __u32 m_groups;
  __u32 m_gi;
  __u32 m_max;
  __u32 m_n;
  __u32 m_budget;
  __u32 m_scan;
  __u32 m_count[KDBG_MAX_CALL_DEPTH];  // the entries of the MAP whose frame is at that depth
  // Kept from hit to hit (the rest is zeroed at each): this CPU's last hit wrote the record's slots
  // [0, dirty) (its own, its slices' elements, the frames after them); the next resets those.
  __u32 dirty;
  __u32 pad;
  // Not reset: m_count says how many are this hit's (m_n while they are found).
  __u64 m_addrs[KDBG_MAX_CALL_DEPTH][KDBG_MAP_MAX];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct run_state);
} run SEC(".maps");

struct run_ctx {
  struct kdbg_probe* probe;
  struct kdbg_record* rec;
  struct run_state* st;
};

_Static_assert((KDBG_MAX_CALL_DEPTH & (KDBG_MAX_CALL_DEPTH - 1)) == 0,
               "RET masks its index with KDBG_MAX_CALL_DEPTH - 1");
_Static_assert((KDBG_MAP_MAX & (KDBG_MAP_MAX - 1)) == 0,
               "MAP and RET mask an entry's index with KDBG_MAP_MAX - 1");

// KDBG_OP_CALL (probe_abi.h): `s` the interface's slot, `t` the region's first.
static __always_inline void call(struct run_ctx* c, struct kdbg_op* op, struct kdbg_slot* s,
                                 struct kdbg_slot* t) {
  t->status = KDBG_SLOT_NO_TYPE;
  t->w0 = 0;
  if (s->status != KDBG_SLOT_OK || s->w0 == 0) return;
  __u64 type = s->w0;
  if ((op->a & KDBG_CALL_ITAB) && bpf_probe_read_user(&type, sizeof(type), (void*)(s->w0 + 8))) {
    t->status = KDBG_SLOT_FAULT;
    t->w0 = s->w0 + 8;
    return;
  }
  t->w0 = type;
  struct kdbg_dispatch_key key = {.type = type, .variant = (__u32)op->imm};
  struct kdbg_dispatch* d = bpf_map_lookup_elem(&dispatch, &key);
  __u32 depth = c->st->depth;
  if (!d || d->nslots > (op->a & 63) || depth >= KDBG_MAX_CALL_DEPTH) return;
  t->status = KDBG_SLOT_OK;
  c->st->ret_pc[depth] = c->st->pc;
  c->st->ret_base[depth] = c->st->base;
  c->st->ret_data[depth] = c->st->regs[KDBG_REG_DATA];
  c->st->left[depth] = 0;
  c->st->depth = depth + 1;
  c->st->base = c->st->base + (__u32)op->off;
  c->st->regs[KDBG_REG_DATA] = s->w1;
  c->st->pc = d->pc;
}

// Starts running an EACH's or MAP's subprogram (op->imm's pc) on its first element: `n` elements
// of op->a slots each, from the record's next free slot on (the caller checked they fit), the
// first at `data`.
static __always_inline void first_element(struct run_ctx* c, struct kdbg_op* op, __u32 n,
                                          __u64 data) {
  __u32 depth = c->st->depth;
  __u32 start = c->st->heap;
  if (depth >= KDBG_MAX_CALL_DEPTH) return;
  c->st->heap = start + n * op->a;
  c->st->ret_pc[depth] = c->st->pc;
  c->st->ret_base[depth] = c->st->base;
  c->st->ret_data[depth] = c->st->regs[KDBG_REG_DATA];
  c->st->left[depth] = n - 1;
  c->st->depth = depth + 1;
  c->st->base = start;
  c->st->regs[KDBG_REG_DATA] = data;
  c->st->pc = (__u32)op->imm;
}

// KDBG_OP_EACH (probe_abi.h): `s` holds the count, `t` the first element's address; the elements
// take slots from the record's next free one (run_state.heap) on, as many as fit (reset at the
// hit's start when an earlier hit wrote them: run_state.dirty).
static __always_inline void each(struct run_ctx* c, struct kdbg_op* op, struct kdbg_slot* s,
                                 struct kdbg_slot* t) {
  __u64 n = s->w0;
  __u64 max = op->imm >> 56;
  __u32 depth = c->st->depth;
  __u32 a = op->a;
  __u32 start = c->st->heap;
  t->w1 = start;
  t->n = 0;
  if (s->status != KDBG_SLOT_OK || t->status != KDBG_SLOT_OK || depth >= KDBG_MAX_CALL_DEPTH ||
      a == 0 || start >= KDBG_MAX_SLOTS)
    return;
  if (n > max) n = max;
  if (n > (KDBG_MAX_SLOTS - start) / a) n = (KDBG_MAX_SLOTS - start) / a;
  if (n == 0) return;
  t->n = (__u32)n;
  first_element(c, op, (__u32)n, t->w0);
}

// KDBG_OP_MAP (probe_abi.h), one step: the map's header, a directory entry (a table's pointer and
// its groups) or a group's ctrl word; once the entries are found, the first one's subprogram.
// Leaves st->pc at this op (`pc`) while there is more to look at, and `t` unset until then (a
// hit whose steps run out meanwhile says so).
static __always_inline void map_step(struct run_ctx* c, struct kdbg_op* op, struct kdbg_slot* s,
                                     struct kdbg_slot* t, __u32 pc) {
  struct run_state* st = c->st;
  __u64 slot_size = (op->imm >> 32) & 0xffffff;
  if (!st->m_scan) {
    __u64 hdr[4] = {0, 0, 0, 0};  // used, seed, dirPtr, dirLen
    t->w1 = st->heap;
    t->n = 0;
    if (s->status != KDBG_SLOT_OK || s->w0 == 0) return;
    if (bpf_probe_read_user(hdr, sizeof(hdr), (void*)s->w0)) {
      t->status = KDBG_SLOT_FAULT;
      t->w0 = s->w0;
      return;
    }
    t->w0 = hdr[0];
    t->status = KDBG_SLOT_OK;  // unless there are entries to find (below)
    __u64 max = op->imm >> 56;
    if (max > KDBG_MAP_MAX) max = KDBG_MAP_MAX;
    if (max > hdr[0]) max = hdr[0];
    if (op->a == 0 || st->heap >= KDBG_MAX_SLOTS || st->depth >= KDBG_MAX_CALL_DEPTH) return;
    __u64 room = (KDBG_MAX_SLOTS - st->heap) / op->a;
    if (max > room) max = room;
    if (max == 0 || hdr[2] == 0 || slot_size == 0) return;
    st->m_max = (__u32)max;
    st->m_n = 0;
    st->m_budget = KDBG_MAP_GROUPS;
    st->m_table = 0;
    st->m_gi = 0;
    st->m_diri = 0;
    if (hdr[3] == 0) {  // a small map: dirPtr is its one group
      st->m_data = hdr[2];
      st->m_groups = 1;
      st->m_dirlen = 0;
    } else {
      st->m_dir = hdr[2];
      st->m_groups = 0;
      st->m_dirlen = hdr[3] > KDBG_MAP_GROUPS ? KDBG_MAP_GROUPS : (__u32)hdr[3];
    }
    st->m_scan = 1;
    t->status = KDBG_SLOT_UNSET;
    st->pc = pc;
    return;
  }
  int more = 1;
  if (st->m_gi < st->m_groups) {
    __u64 group = st->m_data + (__u64)st->m_gi * (8 + 8 * slot_size);
    __u64 ctrl = 0;
    st->m_gi++;
    if (bpf_probe_read_user(&ctrl, sizeof(ctrl), (void*)group)) {
      more = 0;
    } else {
      for (int j = 0; j < 8; j++) {
        __u32 n = st->m_n;
        if (n >= st->m_max) break;
        if ((ctrl >> (8 * j)) & 0x80) continue;  // empty or deleted
        st->m_addrs[st->depth & (KDBG_MAX_CALL_DEPTH - 1)][n & (KDBG_MAP_MAX - 1)] =
            group + 8 + (__u64)j * slot_size;
        st->m_n = n + 1;
      }
    }
  } else if (st->m_diri < st->m_dirlen) {
    __u64 table = 0;
    __u64 groups[2] = {0, 0};  // data, lengthMask
    if (bpf_probe_read_user(&table, sizeof(table), (void*)(st->m_dir + 8 * (__u64)st->m_diri))) {
      more = 0;
    } else if (table != st->m_table && table != 0) {
      st->m_table = table;
      if (bpf_probe_read_user(groups, sizeof(groups), (void*)(table + 16))) {
        more = 0;
      } else {
        st->m_data = groups[0];
        st->m_groups = groups[1] >= KDBG_MAP_GROUPS ? KDBG_MAP_GROUPS : (__u32)groups[1] + 1;
        st->m_gi = 0;
      }
    }
    st->m_diri++;
  } else {
    more = 0;
  }
  if (st->m_budget > 0) st->m_budget--;
  if (more && st->m_n < st->m_max && st->m_budget > 0) {
    st->pc = pc;
    return;
  }
  st->m_scan = 0;
  t->status = KDBG_SLOT_OK;
  t->n = st->m_n;
  __u32 d = st->depth & (KDBG_MAX_CALL_DEPTH - 1);
  st->m_count[d] = st->m_n;
  if (st->m_n > 0) first_element(c, op, st->m_n, st->m_addrs[d][0]);
}

// The op at `pc`: the probe's below KDBG_MAX_OPS, a subprogram's from there; null past the end.
static __always_inline struct kdbg_op* op_at(struct run_ctx* c, __u32 pc) {
  // Masks keep every index provably in bounds for the verifier (KDBG_MAX_OPS is a power of two).
  if (pc < KDBG_MAX_OPS) {
    if (pc >= c->probe->nops) return 0;
    // Hidden from clang, which would otherwise drop the mask it knows to hold and index by a copy
    // of pc the verifier cannot bound.
    __u32 i = pc;
    barrier_var(i);
    return &c->probe->ops[i & (KDBG_MAX_OPS - 1)];
  }
  __u32 k = pc - KDBG_MAX_OPS;
  return bpf_map_lookup_elem(&subops, &k);
}

// KDBG_OP_RET: the next element of the EACH or entry of the MAP in progress, else back to the
// caller. 0 when the program cannot go on.
static __always_inline int ret(struct run_ctx* c) {
  __u32 depth = c->st->depth;
  if (depth == 0 || depth > KDBG_MAX_CALL_DEPTH) return 0;
  depth = (depth - 1) & (KDBG_MAX_CALL_DEPTH - 1);
  if (c->st->left[depth] > 0) {
    // The EACH or MAP op is the one before its return pc.
    struct kdbg_op* each_op = op_at(c, c->st->ret_pc[depth] - 1);
    if (!each_op) return 0;
    if (each_op->code == KDBG_OP_EACH) {
      c->st->regs[KDBG_REG_DATA] += (each_op->imm >> 32) & 0xffffff;
    } else if (each_op->code == KDBG_OP_MAP) {
      __u32 i = c->st->m_count[depth] - c->st->left[depth];  // the next entry's index
      c->st->regs[KDBG_REG_DATA] = c->st->m_addrs[depth][i & (KDBG_MAP_MAX - 1)];
    } else {
      return 0;
    }
    c->st->left[depth]--;
    c->st->base += each_op->a;
    c->st->pc = (__u32)each_op->imm;
    return 1;
  }
  c->st->depth = depth;
  c->st->pc = c->st->ret_pc[depth];
  c->st->base = c->st->ret_base[depth];
  c->st->regs[KDBG_REG_DATA] = c->st->ret_data[depth];
  return 1;
}

static long run_op(__u32 i, void* data) {
  struct run_ctx* c = data;
  __u32 pc = c->st->pc;
  c->st->pc = pc + 1;
  struct kdbg_op* op = op_at(c, pc);
  if (!op) return 1;
  __u32 slot = (c->st->base + op->slot) & (KDBG_MAX_SLOTS - 1);
  struct kdbg_slot* s = &c->rec->slots[slot];
  switch (op->code) {
    case KDBG_OP_CALL:
      call(c, op, s, &c->rec->slots[(c->st->base + (__u32)op->off) & (KDBG_MAX_SLOTS - 1)]);
      c->st->skip = 1;
      return 0;
    case KDBG_OP_EACH:
      each(c, op, s, &c->rec->slots[(c->st->base + (__u32)op->off) & (KDBG_MAX_SLOTS - 1)]);
      c->st->skip = 1;
      return 0;
    case KDBG_OP_MAP:
      map_step(c, op, s, &c->rec->slots[(c->st->base + (__u32)op->off) & (KDBG_MAX_SLOTS - 1)], pc);
      c->st->skip = 1;
      return 0;
    case KDBG_OP_RET:
      c->st->skip = 1;
      return ret(c) ? 0 : 1;
    case KDBG_OP_ALT:
      c->st->slot = slot;
      c->st->skip = s->status == KDBG_SLOT_OK;
      c->st->status = KDBG_SLOT_OK;
      return 0;
    case KDBG_OP_END:
      if (s->status != KDBG_SLOT_OK) s->status = c->st->status;
      c->st->skip = 1;
      return 0;
    default:
      break;
  }
  if (c->st->skip) return 0;
  switch (op->code) {
    case KDBG_OP_REG:
      c->st->acc = op->a < KDBG_NREGS + 3 ? c->st->regs[op->a] : 0;
      break;
    case KDBG_OP_CONST:
      c->st->acc = op->imm;
      break;
    case KDBG_OP_LOAD0:
    case KDBG_OP_LOAD: {
      __u64 addr = c->st->acc + (__s64)op->off;
      __u64 v = 0;
      long err;
      if (c->st->acc == 0 && op->code == KDBG_OP_LOAD0) break;  // acc stays 0
      if (c->st->acc == 0) {
        c->st->status = KDBG_SLOT_NIL;
        s->w0 = pc;
        c->st->skip = 1;
        return 0;
      }
      // `a` bytes (1..8; any other: 8), little-endian into the zeroed word: zero-extended.
      __u32 size = op->a;
      if (size == 0 || size > 8) size = 8;
      err = bpf_probe_read_user(&v, size, (void*)addr);
      if (err) {
        c->st->status = KDBG_SLOT_FAULT;
        s->w0 = addr;
        c->st->skip = 1;
        return 0;
      }
      c->st->acc = v;
      break;
    }
    case KDBG_OP_LOAD2: {
      __u64 addr = c->st->acc + (__s64)op->off;
      __u64 pair[2] = {0, 0};
      if (c->st->acc == 0) {
        c->st->status = KDBG_SLOT_NIL;
        s->w0 = pc;
        c->st->skip = 1;
        return 0;
      }
      if (bpf_probe_read_user(pair, sizeof(pair), (void*)addr)) {
        c->st->status = KDBG_SLOT_FAULT;
        s->w0 = addr;
        c->st->skip = 1;
        return 0;
      }
      s->w0 = pair[0];
      s->w1 = pair[1];
      break;
    }
    case KDBG_OP_GUARD:
      if (c->st->acc != op->imm) {
        c->st->skip = 1;
        // An earlier alternative of this slot matched the dynamic type and then met a nil
        // pointer, unreadable memory or an index out of range: that, not this type's mismatch,
        // is the slot's outcome.
        if (s->status == KDBG_SLOT_UNSET || s->status == KDBG_SLOT_NO_TYPE) {
          c->st->status = KDBG_SLOT_NO_TYPE;
          s->w0 = c->st->acc;
        } else {
          c->st->status = s->status;
        }
      }
      break;
    case KDBG_OP_CHECK:
      if (op->imm >= c->st->acc) {
        c->st->status = KDBG_SLOT_RANGE;
        s->w0 = c->st->acc;
        c->st->skip = 1;
      }
      break;
    case KDBG_OP_STORE:
      if (op->a == 0)
        s->w0 = c->st->acc;
      else
        s->w1 = c->st->acc;
      break;
    case KDBG_OP_STR: {
      // Bytes [imm, imm + KDBG_STR_MAX) of min(w1, KDBG_STR_MAX) elements of `a` bytes.
      __u64 count = s->w1;
      __u64 size = op->a ? op->a : 1;
      if (count > KDBG_STR_MAX) count = KDBG_STR_MAX;
      __u64 total = count * size;
      __u64 n = total > op->imm ? total - op->imm : 0;
      if (n > KDBG_STR_MAX) n = KDBG_STR_MAX;
      if (n > 0 &&
          bpf_probe_read_user(s->str, n & (2 * KDBG_STR_MAX - 1), (void*)(s->w0 + op->imm))) {
        c->st->status = KDBG_SLOT_FAULT;
        c->st->skip = 1;
        n = 0;
      }
      s->n = n;
      break;
    }
    default:
      break;
  }
  return 0;
}

// The frame-pointer walk of `on .. stack` (probe_abi.h, kdbg_probe.stack_depth): one calling
// frame per call, its return address written at words[at].
struct walk_ctx {
  __u64* words;  // the record's slots and frames, as 8-byte words
  __u32 at;      // the next frame's word
  __u32 n;       // frames written
  __u64 fp;      // the next frame's frame pointer: [fp] its caller's, [fp + 8] its return address
  __u64 lo;      // RSP at the hit: frames are above it ...
  __u64 hi;      // ... and below the goroutine's stack top
};

// Appends return address `ret`; 0 when the record has no room left.
static int put_frame(struct walk_ctx* w, __u64 ret) {
  __u32 at = w->at;
  if (at >= KDBG_RECORD_WORDS) return 0;
  w->words[at] = ret;
  w->at = at + 1;
  w->n++;
  return 1;
}

static long walk_frame(__u32 i, void* data) {
  struct walk_ctx* w = data;
  __u64 fp = w->fp;
  if (fp < w->lo || fp + 16 > w->hi) return 1;
  __u64 pair[2] = {0, 0};
  if (bpf_probe_read_user(pair, sizeof(pair), (void*)fp) || pair[1] == 0) return 1;
  if (!put_frame(w, pair[1])) return 1;
  // A caller's frame is above its callee's; anything else (0 at a goroutine's first frame) ends
  // the walk.
  if (pair[0] <= fp) return 1;
  w->fp = pair[0];
  return 0;
}

// Writes up to p->stack_depth return addresses after the record's `nslots` slots; returns how
// many.
static __u32 walk_stack(struct kdbg_probe* p, struct kdbg_record* rec, __u64* regs, __u32 nslots) {
  __u32 depth = p->stack_depth;
  if (depth > KDBG_MAX_FRAMES) depth = KDBG_MAX_FRAMES;
  __u64 rsp = regs[KDBG_RSP];
  __u64 bp = regs[KDBG_RBP];
  __u64 cfa = rsp + (__s64)p->cfa_offset;
  __u64 g = regs[KDBG_R14];
  __u64 hi = 0;
  if (g == 0 || bpf_probe_read_user(&hi, sizeof(hi), (void*)(g + p->stack_hi_offset))) return 0;
  struct walk_ctx w = {
      .words = (__u64*)rec->slots, .at = nslots * 11, .n = 0, .fp = bp, .lo = rsp, .hi = hi};
  if (bp + 16 != cfa) {
    // The probed function has not pushed RBP (its entry, or it has no frame): its return address
    // is at CFA - 8, and RBP is still its caller's frame pointer.
    __u64 ret = 0;
    if (bpf_probe_read_user(&ret, sizeof(ret), (void*)(cfa - 8)) || ret == 0 ||
        !put_frame(&w, ret)) {
      return 0;
    }
  }
  if (w.n < depth) bpf_loop(depth - w.n, walk_frame, &w, 0);
  return w.n;
}

// Whether a comparison `op` (enum kdbg_cond_op) holds for `cmp`, the sign of a - b.
static int compares(__u32 op, int cmp) {
  switch (op) {
    case KDBG_COND_EQ:
      return cmp == 0;
    case KDBG_COND_NE:
      return cmp != 0;
    case KDBG_COND_LT:
      return cmp < 0;
    case KDBG_COND_LE:
      return cmp <= 0;
    case KDBG_COND_GT:
      return cmp > 0;
    case KDBG_COND_GE:
      return cmp >= 0;
    default:
      return 1;
  }
}

// Whether the probe's condition holds for the values in `rec` (probe_abi.h). A value that could
// not be read passes: Delve reports such a hit too, with the evaluation error (and counts it for
// the hit condition: evalBreakpointCondition returns true with the error).
static int cond_holds(struct kdbg_probe* p, struct kdbg_record* rec) {
  struct kdbg_slot* s = &rec->slots[p->cond_slot & (KDBG_MAX_SLOTS - 1)];
  if (s->status != KDBG_SLOT_OK) return 1;
  int cmp;
  if (p->cond_kind == KDBG_COND_STRING) {
    // A constant is at most KDBG_STR_MAX bytes: equal lengths mean every byte was copied.
    int eq = s->w1 == p->cond_imm && s->n == p->cond_imm;
    for (int i = 0; eq && i < KDBG_STR_MAX; i++) {
      if (i >= s->n) break;
      if (s->str[i] != p->cond_str[i]) eq = 0;
    }
    cmp = eq ? 0 : 1;
  } else {
    __u32 shift = p->cond_shift & 63;
    if (p->cond_kind == KDBG_COND_SIGNED) {
      __s64 a = ((__s64)(s->w0 << shift)) >> shift;
      __s64 b = (__s64)p->cond_imm;
      cmp = a < b ? -1 : (a > b ? 1 : 0);
    } else {
      __u64 a = (s->w0 << shift) >> shift;
      __u64 b = p->cond_imm;
      cmp = a < b ? -1 : (a > b ? 1 : 0);
    }
  }
  return compares(p->cond_op, cmp);
}

// Whether the tracepoint's `n`th hit whose condition held is reported under its hit condition.
static int hit_cond_holds(struct kdbg_probe* p, __u64 n) {
  __u64 v = p->hit_val;
  if (p->hit_op == KDBG_COND_REM) return v != 0 && n % v == 0;
  return compares(p->hit_op, n < v ? -1 : (n > v ? 1 : 0));
}

// GCRA: equivalent to a token bucket of burst_ns/interval_ns tokens refilled one per interval_ns,
// kept in one word so concurrent CPUs can update it with compare-and-swap.
static int over_rate(struct kdbg_probe* p, struct kdbg_probe_state* st, __u64 now) {
  if (p->interval_ns == 0) return 0;
  for (int attempt = 0; attempt < 4; attempt++) {
    __u64 old = st->tat;
    __u64 tat = old > now ? old : now;
    if (tat - now >= p->burst_ns) return 1;
    if (__sync_val_compare_and_swap(&st->tat, old, tat + p->interval_ns) == old) return 0;
  }
  return 0;  // heavy contention: let this one through rather than disarm on a race
}

// A wake-up is an irq_work: a self-IPI, which in a VM is an APIC write that exits to the
// hypervisor (~1 us). Wake only when this record takes the backlog past a multiple of
// wakeup_bytes, not on every record above it: once per wakeup_bytes of records however slow the
// consumer, and a wake-up missed in a race (two CPUs reading the same backlog) is made good by
// the next multiple or by the consumer's poll timeout.
static void submit(struct kdbg_record* rec, __u64 size) {
  if (size > sizeof(*rec)) size = sizeof(*rec);
  __u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
  __u64 flags = wakeup_bytes && avail / wakeup_bytes != (avail + size) / wakeup_bytes
                    ? BPF_RB_FORCE_WAKEUP
                    : BPF_RB_NO_WAKEUP;
  if (bpf_ringbuf_output(&events, rec, size, flags)) {
    struct kdbg_probe_state* st = bpf_map_lookup_elem(&state, &rec->probe);
    if (st) __sync_fetch_and_add(&st->drops, 1);
  }
}

SEC("uprobe")
int kdbg_probe(struct pt_regs* ctx) {
  __u32 idx = (__u32)bpf_get_attach_cookie(ctx);
  __u32 zero = 0;
  struct kdbg_probe* p = bpf_map_lookup_elem(&probes, &idx);
  struct kdbg_probe_state* st = bpf_map_lookup_elem(&state, &idx);
  if (!p || !st) return 0;
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  if ((pid_tgid >> 32) != p->tgid) return 0;
  __u32 rate_idx = p->rate_probe;
  struct kdbg_probe_state* rate = bpf_map_lookup_elem(&state, &rate_idx);
  if (!rate) return 0;
  if (rate->disarmed) return 0;
  struct kdbg_record* rec = bpf_map_lookup_elem(&scratch, &zero);
  if (!rec) return 0;
  struct run_state* st_run = bpf_map_lookup_elem(&run, &zero);
  if (!st_run) return 0;
  __builtin_memset(st_run, 0, __builtin_offsetof(struct run_state, dirty));
  struct run_ctx c = {.probe = p, .rec = rec, .st = st_run};
  if (bpf_probe_read_kernel(st_run->regs, KDBG_NREGS * sizeof(__u64), ctx)) return 0;
  // On the JBE after `CMPQ SP, 16(R14)`: CF or ZF set means the jump to morestack is taken and the
  // function will run again from its entry on a bigger stack; report only the run that proceeds.
  if (p->check_flags && (st_run->regs[KDBG_EFLAGS] & 0x41)) {
    __sync_fetch_and_add(&st->skipped, 1);
    return 0;
  }
  // A conditional tracepoint's call or return: its key (probe_abi.h, kdbg_call_key).
  struct kdbg_call_key key = {};
  int keyed = 0;
  __u64 g = st_run->regs[KDBG_R14];
  if (p->track != KDBG_TRACK_NONE && g) {
    __u64 hi = 0;
    key.entry = p->entry;
    keyed = !bpf_probe_read_user(&hi, sizeof(hi), (void*)(g + p->stack_hi_offset)) &&
            !bpf_probe_read_user(&key.goid, sizeof(key.goid), (void*)(g + p->goid_offset));
    key.depth = hi - st_run->regs[KDBG_RSP];
  }
  if (p->track == KDBG_TRACK_RETURN) {
    // Not the return of a call the user saw: no event, no hit.
    if (!keyed || !bpf_map_lookup_elem(&calls, &key)) return 0;
    bpf_map_delete_elem(&calls, &key);
  }
  __sync_fetch_and_add(&st->hits, 1);
  __u64 now = bpf_ktime_get_ns();
  rec->ktime_ns = now;
  rec->probe = idx;
  rec->tid = (__u32)pid_tgid;
  rec->goid = 0;
  rec->nslots = 0;
  rec->nframes = 0;
  if (over_rate(p, rate, now)) {
    if (__sync_val_compare_and_swap(&rate->disarmed, 0, 1) == 0) {
      rec->kind = KDBG_REC_RATE_LIMITED;
      submit(rec, __builtin_offsetof(struct kdbg_record, slots));
    }
    return 0;
  }
  rec->kind = KDBG_REC_HIT;
  if (g) bpf_probe_read_user(&rec->goid, sizeof(rec->goid), (void*)(g + p->goid_offset));
  __u32 nslots = p->nslots;
  if (nslots > KDBG_MAX_SLOTS) nslots = KDBG_MAX_SLOTS;
  // Only the slots the ops name, and those the last hit left written (slices' elements and frames
  // may lie past them): a slot is 88 bytes, and resetting all 32 of the record's slots then at
  // every hit was 16% of this program's time in a profile of the HTTP case (session 7).
  __u32 nused = p->nused;
  __u32 reset = nused > st_run->dirty ? nused : st_run->dirty;
  for (int i = 0; i < KDBG_MAX_SLOTS; i++) {
    if (i >= reset) break;
    rec->slots[i].status = KDBG_SLOT_UNSET;
    rec->slots[i].n = 0;
    rec->slots[i].w0 = 0;
    rec->slots[i].w1 = 0;
  }
  // (p->nused read again, not the local: the verifier tracks the local's range, and the states
  // it explored grew by a fifth with it.)
  st_run->heap = p->nused;
  st_run->skip = 1;
  bpf_loop(KDBG_MAX_STEPS, run_op, &c, 0);
  st_run->dirty = st_run->heap > nused ? st_run->heap : nused;
  // Delve's order (proc.checkCond): the condition, then the count of the hits it let through.
  if ((p->cond_op != KDBG_COND_NONE && !cond_holds(p, rec)) ||
      (p->hit_op != KDBG_COND_NONE &&
       !hit_cond_holds(p, __sync_fetch_and_add(&rate->cond_hits, 1) + 1))) {
    __sync_fetch_and_add(&st->cond_false, 1);
    // A call this tracepoint reported that never returned (a panic through it, recovered further
    // up; runtime.Goexit) left its key: this call, at its depth, must not inherit it.
    if (p->track == KDBG_TRACK_CALL && keyed) bpf_map_delete_elem(&calls, &key);
    return 0;
  }
  if (p->track == KDBG_TRACK_CALL && keyed) {
    __u8 one = 1;
    bpf_map_update_elem(&calls, &key, &one, BPF_ANY);
  }
  // Slices' elements take slots past the probe's own (each()).
  if (st_run->heap > p->nused && st_run->heap <= KDBG_MAX_SLOTS) nslots = st_run->heap;
  rec->nslots = nslots;
  __u64 size = __builtin_offsetof(struct kdbg_record, slots) + nslots * sizeof(struct kdbg_slot);
  if (p->stack_depth) {
    rec->nframes = walk_stack(p, rec, st_run->regs, nslots);
    __u32 end =
        nslots + (rec->nframes * 8 + sizeof(struct kdbg_slot) - 1) / sizeof(struct kdbg_slot);
    if (end > st_run->dirty) st_run->dirty = end;
    size += rec->nframes * sizeof(__u64);
  }
  submit(rec, size);
  return 0;
}
