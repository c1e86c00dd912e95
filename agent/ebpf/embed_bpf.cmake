# cmake -DIN=probe.bpf.o -DOUT=probe_bpf_object.cc -P embed_bpf.cmake: the object as a C++ array.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR size "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x..,){32})" "\\1\n" body "${body}")
file(WRITE ${OUT} "// Generated from probe.bpf.c by embed_bpf.cmake: do not edit.\n"
  "#include \"agent/ebpf/probe_bpf_object.h\"\n"
  "namespace kdbg::ebpf {\n"
  "alignas(8) const unsigned char kProbeBpfObject[] = {\n${body}\n};\n"
  "const size_t kProbeBpfObjectSize = ${size};\n"
  "}  // namespace kdbg::ebpf\n")
