# INTERFACE targets linked PRIVATE by every kdbg target: language settings and warnings.
add_library(kdbg_settings INTERFACE)
target_compile_features(kdbg_settings INTERFACE cxx_std_20)
target_include_directories(kdbg_settings INTERFACE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
target_compile_definitions(kdbg_settings INTERFACE KDBG_VERSION="${PROJECT_VERSION}")

add_library(kdbg_warnings INTERFACE)
target_compile_options(kdbg_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter)
if(KDBG_WERROR)
  target_compile_options(kdbg_warnings INTERFACE -Werror)
endif()

# kdbg_add_test(NAME SOURCES... LIBS ...): one gtest binary, tests discovered by ctest.
# Tests find the source, build and fixture directories through tests/support/test_env.h, whose
# defaults are compiled in (gtest_discover_tests splits a list-valued ENVIRONMENT, so it is not used).
# LABEL: unit (hermetic), integration (real Delve/containerd), e2e (whole stack).
# PROPERTIES: extra ctest properties for every discovered test (e.g. FIXTURES_REQUIRED).
function(kdbg_add_test name)
  cmake_parse_arguments(T "" "LABEL;TIMEOUT" "SOURCES;LIBS;PROPERTIES" ${ARGN})
  if(NOT T_LABEL)
    set(T_LABEL unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gmock GTest::gtest_main kdbg_settings kdbg_warnings)
  gtest_discover_tests(${name}
    PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT}
               ${T_PROPERTIES}
    DISCOVERY_TIMEOUT 60)
endfunction()
