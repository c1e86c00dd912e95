# kdbg_link_grpc_statically(EXE ROOT): links executable EXE with what library ROOT links, but
# with gRPC, protobuf, Abseil, RE2, upb and c-ares from Debian's static archives (libgrpc.a, ...)
# instead of their shared libraries. Used for the CLI, the one program users start by hand, over
# and over: with the shared libraries the dynamic loader binds ~16,000 relocations across ~60
# libraries (LD_DEBUG=statistics) at every start. Measured with `perf stat -r 40 kdbg --help`:
# 19-31 ms of CPU and 25-32 ms of wall time shared, 7.4-8.9 ms and 10-14 ms static (bench/README.md,
# "The CLI's start"); a `kdbg trace` pays it before its first request.
#
# One copy of each library: every library that links those six is linked from its archive, and
# OpenSSL, zlib, cpp-httplib, yaml-cpp and jemalloc stay shared (cpp-httplib's shared library
# brings its own OpenSSL and zlib: a static copy beside them would be a second OpenSSL in the
# process). tests/unit/lint/static_cli.sh checks the result's DT_NEEDED entries.
#
# How: EXE links no target of ours (their usage requirements would add the shared libraries back);
# it links the archive files of the static libraries in ROOT's link closure, in one
# --start-group, with the third-party archives, followed by the rest of the closure's items
# (ROOT's INTERFACE libraries and imported targets other than the six above).

# The libraries linked from their archives: Debian's names (pkg-config --static --libs). Also
# tests/unit/lint/static_cli.sh's list of what the CLI must not load (tests/unit/lint/CMakeLists).
set(KDBG_STATIC_GRPC_NAMES "^(grpc\\+\\+|grpc|gpr|upb|address_sorting|re2|cares|protobuf|absl_.*)$")
# Imported targets those archives replace.
set(_KDBG_STATIC_GRPC_TARGETS "^(gRPC::|protobuf::|absl::|PkgConfig::RE2$)")

# Appends to global properties _KDBG_OWN (static libraries built here) and _KDBG_OTHER (every
# other link item) what `target` links, depth first, each once.
function(_kdbg_link_closure target)
  get_property(seen GLOBAL PROPERTY _KDBG_SEEN)
  if(target IN_LIST seen)
    return()
  endif()
  set_property(GLOBAL APPEND PROPERTY _KDBG_SEEN ${target})
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    get_target_property(libs ${target} INTERFACE_LINK_LIBRARIES)
  else()
    get_target_property(libs ${target} LINK_LIBRARIES)
  endif()
  if(NOT libs)
    set(libs "")
  endif()
  foreach(lib IN LISTS libs)
    if(NOT TARGET ${lib})
      set_property(GLOBAL APPEND PROPERTY _KDBG_OTHER ${lib})
      continue()
    endif()
    get_target_property(imported ${lib} IMPORTED)
    get_target_property(lib_type ${lib} TYPE)
    if(imported)
      if(NOT lib MATCHES "${_KDBG_STATIC_GRPC_TARGETS}")
        set_property(GLOBAL APPEND PROPERTY _KDBG_OTHER ${lib})
      endif()
    elseif(lib_type STREQUAL "STATIC_LIBRARY")
      set_property(GLOBAL APPEND PROPERTY _KDBG_OWN ${lib})
      _kdbg_link_closure(${lib})
    elseif(lib_type STREQUAL "INTERFACE_LIBRARY")
      set_property(GLOBAL APPEND PROPERTY _KDBG_OTHER ${lib})
      _kdbg_link_closure(${lib})
    else()
      message(FATAL_ERROR "kdbg_link_grpc_statically: ${target} links ${lib} (${lib_type})")
    endif()
  endforeach()
endfunction()

function(kdbg_link_grpc_statically exe root)
  set_property(GLOBAL PROPERTY _KDBG_SEEN "")
  set_property(GLOBAL PROPERTY _KDBG_OWN ${root})
  set_property(GLOBAL PROPERTY _KDBG_OTHER "")
  _kdbg_link_closure(${root})
  get_property(own GLOBAL PROPERTY _KDBG_OWN)
  get_property(other GLOBAL PROPERTY _KDBG_OTHER)
  list(REMOVE_DUPLICATES own)
  list(REMOVE_DUPLICATES other)

  pkg_check_modules(KDBG_GRPC_STATIC REQUIRED grpc++ protobuf re2)
  set(archives "")
  set(shared "")
  foreach(name IN LISTS KDBG_GRPC_STATIC_STATIC_LIBRARIES)
    if(name MATCHES "${KDBG_STATIC_GRPC_NAMES}")
      string(MAKE_C_IDENTIFIER "KDBG_ARCHIVE_${name}" var)
      find_library(${var} NAMES lib${name}.a REQUIRED)
      list(APPEND archives ${${var}})
    else()
      list(APPEND shared ${name})  # ssl, crypto, z, dl, pthread, atomic, rt, m
    endif()
  endforeach()
  list(REMOVE_DUPLICATES archives)
  list(REMOVE_DUPLICATES shared)
  list(TRANSFORM shared PREPEND "-l")

  set(own_files "")
  foreach(lib IN LISTS own)
    list(APPEND own_files $<TARGET_FILE:${lib}>)
    add_dependencies(${exe} ${lib})
    set_property(TARGET ${exe} APPEND PROPERTY LINK_DEPENDS $<TARGET_FILE:${lib}>)
  endforeach()
  target_link_libraries(${exe} PRIVATE -Wl,--start-group ${own_files} ${archives} -Wl,--end-group
                        ${other} ${shared})
endfunction()
