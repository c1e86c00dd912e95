// The contract between the BPF program (probe.bpf.c) and the agent (loader.cc): map layouts, the
// read-step "bytecode" a probe runs at each hit, and the records it writes to the ring buffer.
// Included by both sides, so it uses only fixed-width types and no C++.
//
// A probe's program is a flat list of ops evaluated in order by one bounded loop. Each printed
// value has a slot in the record. A value is computed by one or more alternatives (an interface
// step yields one alternative per concrete type the agent knows); the first alternative that runs
// to its END without failing fills the slot:
//   ALT slot            start an alternative for `slot` (skipped if the slot is already filled)
//   REG a               acc = saved register number a (index into x86-64 struct pt_regs)
//   CONST imm           acc = imm (a package variable's run-time address)
//   LOAD a=size, off    acc = zero-extended `size` bytes of user memory at acc+off
//                       (status NIL if acc is 0, FAULT if unreadable)
//   GUARD imm           fail this alternative unless acc == imm (the dynamic type's descriptor):
//                       status NO_TYPE, unless an earlier alternative of the slot matched its type
//                       and failed otherwise (NIL, FAULT, RANGE: that status stays)
//   STORE a=word        slot.w[a] = acc
//   LOAD2 off           slot.w0, slot.w1 = the two 8-byte words at acc+off, in one read (a
//                       string's or slice's pointer and length; NIL / FAULT as LOAD)
//   LOAD0 a=size, off   as LOAD, but a nil acc reads as 0 (len() or cap() of a nil map or
//                       channel)
//   CHECK imm           fail this alternative (status RANGE) unless imm < acc: an index within a
//                       length
//   STR a=size, imm     copy bytes [imm, imm + KDBG_STR_MAX) of the first min(slot.w1,
//                       KDBG_STR_MAX) elements of `a` bytes each (0 or 1: bytes) at slot.w0 into
//                       slot.str, as many as there are (a string's bytes: a=0, imm=0; the chunk at
//                       imm of a slice's elements, w0 and w1 its data pointer and length)
//   END slot            if nothing failed, the slot is filled (status OK); else keep the status
//   CALL slot, a, off, imm   (outside alternatives) print an interface's dynamic value, as Delve
//                       loads it, through the subprogram compiled for its dynamic type: `slot`
//                       holds the interface's two words (w0 its itab when a & KDBG_CALL_ITAB,
//                       else its type descriptor; w1 its data word); the descriptor (an itab's
//                       Type, itab+8) is written to slot `off`'s w0 and looked up in the
//                       `dispatch` map under variant imm. Found, and its nslots within a's low 6
//                       bits (the room the caller left): that slot's status is OK and the
//                       subprogram runs with slots counted from `off` (its slot 0 is that one)
//                       and the data word as register KDBG_REG_DATA. Else nothing runs, and
//                       that slot's status is NO_TYPE (w0: the descriptor; 0 for a nil
//                       interface or an unread `slot`) for a type not compiled, not fitting, or
//                       past KDBG_MAX_CALL_DEPTH, or FAULT (w0: itab+8) for an unreadable itab.
//                       A CALL is never inside an alternative (between an END and an ALT).
//   EACH slot, a, off, imm   (outside alternatives) read a slice's elements, each by the
//                       subprogram at pc imm & 0xffffffff: `slot` holds the count (w0), slot
//                       `off` the first element's address (w0), both status OK. The elements take
//                       `a` slots each from the record's next free slot on (past the probe's
//                       nused, after any earlier EACH's): of the first min(count, imm >> 56),
//                       as many as fit in KDBG_MAX_SLOTS. Slot `off` gets w1 = the first element's
//                       slot (counted in the record; never 0, so w1 still 0 says the hit's steps
//                       ran out before the EACH), n = how many were read (0: none, also when
//                       either slot is not OK or past KDBG_MAX_CALL_DEPTH). For each the
//                       subprogram runs with slots counted from its first and the element's
//                       address (first + i * ((imm >> 32) & 0xffffff)) as register KDBG_REG_DATA.
//                       A record with elements carries nslots up to the last element's slots.
//   MAP slot, a, off, imm   (outside alternatives) read a Go 1.24+ map's entries (a swiss
//                       table, internal/runtime/maps), each by the subprogram at pc imm &
//                       0xffffffff: `slot` holds the map pointer (w0, status OK; 0: a nil map,
//                       nothing read). Slot `off` gets w0 = the map's `used` (its length; FAULT,
//                       w0 the address, when the header cannot be read), w1 = the first entry's
//                       record slot (never 0), n = how many were read, and status OK. The
//                       entries are found as Delve iterates them (the directory's tables in order,
//                       each once; a table's groups in order; a group's full slots, ctrl byte
//                       high bit clear, in order): at most min(used, imm >> 56, 64) of them, as
//                       many as fit in KDBG_MAX_SLOTS at `a` slots each, within KDBG_MAP_GROUPS
//                       steps (directory entries and groups looked at: a sparse map's later
//                       entries are not reached, fewer are read; so are those past a group or
//                       table that cannot be read). Slot `off` stays unset until the entries are
//                       found (steps that run out meanwhile leave it so); `a` 0: only the length
//                       is read. The op runs once per directory entry or group it looks at, then
//                       the subprogram once per entry as EACH runs it, the slot's address as
//                       register KDBG_REG_DATA (its key at +0). A slot is (imm >> 32) & 0xffffff
//                       bytes; a group is the 8-byte ctrl word and 8 slots. Layout assumed (the
//                       agent checks it in the binary's DWARF): map used +0, dirPtr +16 (the
//                       group of a map with dirLen 0, else an array of dirLen table pointers),
//                       dirLen +24; table groups.data +16, groups.lengthMask +24 (a MAP with `a`
//                       0 reads only the header's first word, also runtime.hmap's count). A MAP
//                       may run in another's entries (a map in a map): each keeps its entries'
//                       addresses by the depth of the frame they run in.
//   RET                 end of a subprogram: back after its CALL (or its EACH's or MAP's last
//                       element), slots and data as before
//
// Subprograms live in the `subops` array map, shared by every probe of a session (a CALL's target
// pc is KDBG_MAX_OPS + its index there); slots in them are relative to the CALL's region (an
// EACH's element), so one subprogram per (dynamic type or element type, variant) serves every
// value of that variant. A subprogram may CALL or EACH again (a wrapped error's field, a slice in
// an element), at most KDBG_MAX_CALL_DEPTH deep. Every op
// of a subprogram fills a slot of its region, and a region lies within the record's KDBG_MAX_SLOTS:
// the steps a hit runs stay below KDBG_MAX_STEPS (an estimate, not checked: about ten per slot,
// ~2,560 for a full record, and a MAP's walk one per group, at most KDBG_MAP_GROUPS; past it the
// remaining slots stay unset and print "not evaluated").
//
// A probe with a condition (`cond NAME VALUE OP CONSTANT`) computes VALUE into slot `cond_slot`
// (past the probe's own slots; a record whose slices took slots past it carries it too, unread)
// and writes a record only when the comparison holds, or when
// VALUE could not be read (Delve too reports the hit when its condition fails to evaluate).
#pragma once

#ifndef __KDBG_BPF__
#include <stdint.h>
typedef uint8_t kdbg_u8;
typedef uint16_t kdbg_u16;
typedef uint32_t kdbg_u32;
typedef int32_t kdbg_s32;
typedef uint64_t kdbg_u64;
#else
typedef __u8 kdbg_u8;
typedef __u16 kdbg_u16;
typedef __u32 kdbg_u32;
typedef __s32 kdbg_s32;
typedef __u64 kdbg_u64;
#endif

// Uprobes one session arms: a tracepoint takes one per out-of-line body, inlined call and RET.
#define KDBG_MAX_PROBES 256
#define KDBG_MAX_TRACEPOINTS 64
#define KDBG_MAX_OPS 256
// A record's slots: a power of two (the BPF program masks slot indexes with it). 256 hold Delve's
// 64 entries of a map of strings to numbers (two slots each) past a probe's own; a record, 88 bytes
// a slot, stays within a per-CPU map value's 32 KiB (PCPU_MIN_UNIT_SIZE), and only its used slots
// travel.
#define KDBG_MAX_SLOTS 256
// Delve's tracepoint LoadConfig reads at most 64 bytes of a string (MaxStringLen: 64).
#define KDBG_STR_MAX 64
// Subprogram ops (all probes of a session), dispatch entries, and nesting of CALLs.
#define KDBG_MAX_SUBOPS 32768
#define KDBG_MAX_DISPATCH 8192
#define KDBG_MAX_CALL_DEPTH 4  // a power of two
// Op executions per hit: a probe's own KDBG_MAX_OPS and the subprograms it calls.
#define KDBG_MAX_STEPS 4096
// CALL's flag (in `a`): the interface's first word is an itab.
#define KDBG_CALL_ITAB 0x80

enum kdbg_op_code {
  KDBG_OP_NOP = 0,
  KDBG_OP_ALT = 1,
  KDBG_OP_REG = 2,
  KDBG_OP_LOAD = 3,
  KDBG_OP_GUARD = 4,
  KDBG_OP_STORE = 5,
  KDBG_OP_STR = 6,
  KDBG_OP_END = 7,
  KDBG_OP_LOAD2 = 8,
  KDBG_OP_LOAD0 = 9,
  KDBG_OP_CHECK = 10,
  KDBG_OP_CONST = 11,
  KDBG_OP_CALL = 12,
  KDBG_OP_RET = 13,
  KDBG_OP_EACH = 14,
  KDBG_OP_MAP = 15,
};
// The most entries a MAP reads, and groups it looks at, per map.
#define KDBG_MAP_MAX 64  // a power of two
#define KDBG_MAP_GROUPS 256
// EACH's imm: the subprogram's pc, the element's size in bytes and the most elements read.
#define KDBG_EACH_IMM(pc, stride, max) \
  ((kdbg_u64)(pc) | ((kdbg_u64)((stride)&0xffffff) << 32) | ((kdbg_u64)(max) << 56))

// Key and value of the `dispatch` hash map: the subprogram of a dynamic type (its descriptor's
// run-time address) for a variant (the planner's: how deep the interface is in what is printed).
struct kdbg_dispatch_key {
  kdbg_u64 type;
  kdbg_u32 variant;
  kdbg_u32 pad;
};
struct kdbg_dispatch {
  kdbg_u32 pc;      // KDBG_MAX_OPS + its first op's index in `subops`
  kdbg_u32 nslots;  // the slots it uses, its slot 0 (the descriptor) included
};

// Slot status, as the record carries it.
enum kdbg_slot_status {
  KDBG_SLOT_UNSET = 0,    // never evaluated (program error)
  KDBG_SLOT_OK = 1,       //
  KDBG_SLOT_NIL = 2,      // a pointer on the way was nil (w0: the failing op's index)
  KDBG_SLOT_FAULT = 3,    // user memory unreadable (w0: the address)
  KDBG_SLOT_NO_TYPE = 4,  // an interface held a dynamic type the agent did not compile (w0: its
                          // type descriptor's address; 0 for a nil interface)
  KDBG_SLOT_RANGE = 5,    // an index past a slice's or string's length (w0: the length)
};

struct kdbg_op {
  kdbg_u8 code;
  kdbg_u8 a;
  kdbg_u16 slot;
  kdbg_s32 off;
  kdbg_u64 imm;
};

// The comparison of a condition.
enum kdbg_cond_op {
  KDBG_COND_NONE = 0,  // no condition
  KDBG_COND_EQ = 1,
  KDBG_COND_NE = 2,
  KDBG_COND_LT = 3,
  KDBG_COND_LE = 4,
  KDBG_COND_GT = 5,
  KDBG_COND_GE = 6,
  KDBG_COND_REM = 7,  // hit conditions only: the hit count is a multiple of the constant
};

// Which calls a return probe reports (kdbg_probe.track). A tracepoint without a condition reports
// every return. With one, its out-of-line entry probe records each call whose condition held (and
// was reported) under a kdbg_call_key in the `calls` map, and its return probes report only the
// returns whose key is there (and remove it): the returns of the calls the user saw.
enum kdbg_track {
  KDBG_TRACK_NONE = 0,
  KDBG_TRACK_CALL = 1,    // an entry probe: record the call's key when its hit is reported,
                          // remove it when its condition fails
  KDBG_TRACK_RETURN = 2,  // a return probe: report only a return whose call's key is recorded
};

// A pending call: the tracepoint, the goroutine, and the call's depth in its goroutine's stack,
// g.stack.hi - RSP (at the entry and at each RET, RSP points at the return address: the same
// frame gives the same depth, and copying the stack to grow it keeps depths, not addresses).
struct kdbg_call_key {
  kdbg_u32 entry;  // the tracepoint's first probe (kdbg_probe.entry)
  kdbg_u32 pad;
  kdbg_u64 goid;
  kdbg_u64 depth;
};
#define KDBG_MAX_CALLS 16384  // pending calls remembered (LRU: a call that never returns ages out)

// How the condition's slot is compared with the constant.
enum kdbg_cond_kind {
  KDBG_COND_SIGNED = 0,    // w0's low (64 - cond_shift) bits, sign-extended, vs (s64)cond_imm
  KDBG_COND_UNSIGNED = 1,  // w0's low (64 - cond_shift) bits vs cond_imm
  KDBG_COND_STRING = 2,    // length w1 == cond_imm and the bytes equal cond_str (EQ/NE only)
};

// Value of the `probes` array map, one per armed uprobe (index = the link's BPF cookie).
struct kdbg_probe {
  kdbg_u32 tgid;         // only hits of this process (host PID namespace)
  kdbg_u32 check_flags;  // probe sits on the stack-check JBE: ignore hits where CF|ZF is set
  kdbg_u32 nops;
  kdbg_u32 nslots;
  kdbg_u64 interval_ns;  // token bucket (GCRA): one token per interval_ns ...
  kdbg_u64 burst_ns;     // ... and at most burst_ns/interval_ns tokens banked; 0: no limit
  kdbg_u32 goid_offset;  // offset of runtime.g.goid; R14 holds the current g
  kdbg_u32 cond_op;      // enum kdbg_cond_op
  kdbg_u32 cond_kind;    // enum kdbg_cond_kind
  kdbg_u32 cond_slot;    // the slot the condition's value is computed into
  kdbg_u32 cond_shift;   // 64 - 8 * the value's size in bytes
  kdbg_u32 nused;        // slots any op names (< nused), the condition's included: the program
                         // resets these per hit (and those its CPU's last hit wrote past them);
                         // slices' elements (KDBG_OP_EACH) take the slots from nused on
  // The probe whose state holds this probe's token bucket and disarmed flag: a tracepoint's entry
  // and its inlined calls share its first probe's (one rate per tracepoint, as on Delve); a
  // return probe has its own (it never reports more than the calls).
  kdbg_u32 rate_probe;
  kdbg_u32 track;            // enum kdbg_track
  kdbg_u32 entry;            // the tracepoint's first probe: kdbg_call_key.entry
  kdbg_u32 stack_hi_offset;  // offset of runtime.g.stack.hi (track != NONE, or stack_depth)
  // `on .. stack N`: the return addresses of up to N calling frames follow the record's slots
  // (kdbg_record); 0: none. Found as Go's frame pointers chain them (amd64: a function that calls
  // another pushes RBP below its return address, so [RBP] is the caller's RBP and [RBP + 8] the
  // return address): the probed frame's own return address is at CFA - 8, CFA = RSP + cfa_offset;
  // its caller's RBP is [RBP] once the probed function has pushed RBP (RBP + 16 == CFA), else RBP
  // itself (at the entry, in a function without a frame). The walk stops at a frame pointer
  // outside (RSP, g.stack.hi) or a zero one (a goroutine's first frame saved RBP 0).
  kdbg_u32 stack_depth;
  kdbg_s32 cfa_offset;
  // `cond -hitcount NAME OP N`, as Delve's checkHitCond: a hit is reported only when the
  // tracepoint's count of hits whose condition held (this one included; Delve's TotalHitCount,
  // kept in the rate probe's state: one count over the tracepoint's entry and inlined calls)
  // compares so with N. hit_op KDBG_COND_NONE: none.
  kdbg_u32 hit_op;
  kdbg_u32 pad2;
  kdbg_u64 hit_val;
  kdbg_u64 cond_imm;  // the constant (two's complement), or the string's length
  char cond_str[KDBG_STR_MAX];
  struct kdbg_op ops[KDBG_MAX_OPS];
};

// Value of the `state` array map (same index): written by the BPF program.
struct kdbg_probe_state {
  kdbg_u64 tat;         // GCRA theoretical arrival time (ns, bpf_ktime_get_ns)
  kdbg_u64 disarmed;    // 1 once the probe went over its rate; later hits return at once
  kdbg_u64 hits;        // hits that passed the filters (before the rate check)
  kdbg_u64 drops;       // records lost because the ring buffer was full
  kdbg_u64 skipped;     // hits on the JBE where the stack will grow (the function re-enters)
  kdbg_u64 cond_false;  // hits whose condition or hit condition did not hold (no record)
  kdbg_u64 cond_hits;   // hits whose condition held (rate probes: the hit condition's count)
};

enum kdbg_record_kind {
  KDBG_REC_HIT = 1,
  KDBG_REC_RATE_LIMITED = 2,  // the probe went over its rate and disarmed itself
};

struct kdbg_slot {
  kdbg_u64 w0;
  kdbg_u64 w1;
  kdbg_u32 status;
  kdbg_u32 n;  // bytes copied into str (a slice's data pointer: the elements its EACH read)
  char str[KDBG_STR_MAX];
};

// `on .. stack` takes at most 100 frames (script/trace_script.cc).
#define KDBG_MAX_FRAMES 100
// The 8-byte words of the slots and the frames after them (a kdbg_slot is 11 words).
#define KDBG_RECORD_WORDS (KDBG_MAX_SLOTS * 11 + KDBG_MAX_FRAMES)
// A record as written: the header, `nslots` slots, then `nframes` return addresses (8 bytes each,
// the caller's first), right after the last slot: at slots[nslots], not at frame_room.
struct kdbg_record {
  kdbg_u64 ktime_ns;
  kdbg_u32 kind;
  kdbg_u32 probe;
  kdbg_u64 goid;
  kdbg_u32 tid;
  kdbg_u32 nslots;
  kdbg_u32 nframes;
  kdbg_u32 pad;
  struct kdbg_slot slots[KDBG_MAX_SLOTS];
  kdbg_u64 frame_room[KDBG_MAX_FRAMES];  // room for the frames after all KDBG_MAX_SLOTS slots
};

#ifdef __cplusplus
static_assert(sizeof(struct kdbg_slot) == 11 * 8, "KDBG_RECORD_WORDS counts a slot as 11 words");
static_assert(sizeof(struct kdbg_record) <= 32768, "a per-CPU map value is at most 32 KiB");
#else
_Static_assert(sizeof(struct kdbg_slot) == 11 * 8, "KDBG_RECORD_WORDS counts a slot as 11 words");
_Static_assert(sizeof(struct kdbg_record) <= 32768, "a per-CPU map value is at most 32 KiB");
#endif
// x86-64 struct pt_regs, as 8-byte words (arch/x86/include/asm/ptrace.h).
enum kdbg_x86_reg {
  KDBG_R15 = 0,
  KDBG_R14 = 1,
  KDBG_R13 = 2,
  KDBG_R12 = 3,
  KDBG_RBP = 4,
  KDBG_RBX = 5,
  KDBG_R11 = 6,
  KDBG_R10 = 7,
  KDBG_R9 = 8,
  KDBG_R8 = 9,
  KDBG_RAX = 10,
  KDBG_RCX = 11,
  KDBG_RDX = 12,
  KDBG_RSI = 13,
  KDBG_RDI = 14,
  KDBG_ORIG_RAX = 15,
  KDBG_RIP = 16,
  KDBG_CS = 17,
  KDBG_EFLAGS = 18,
  KDBG_RSP = 19,
  KDBG_SS = 20,
  KDBG_NREGS = 21,
  // Not in pt_regs: the data word of the interface whose dynamic value a subprogram reads (CALL).
  KDBG_REG_DATA = 21,
};
