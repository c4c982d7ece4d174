# Helpers that keep each module's CMakeLists.txt to a few lines.
# tessera_module(NAME DEPS...) builds src/<dir>/*.cpp (recursively) into static library tessera_<NAME>.
set(TESSERA_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)

if(TESSERA_SANITIZE)
  string(REPLACE "," ";" _san_list "${TESSERA_SANITIZE}")
  foreach(_san IN LISTS _san_list)
    add_compile_options(-fsanitize=${_san})
    add_link_options(-fsanitize=${_san})
  endforeach()
  add_compile_options(-fno-omit-frame-pointer -fno-sanitize-recover=all)
endif()

# Fuzz builds instrument every library for libFuzzer's coverage; fuzz/ links the fuzzer main.
if(TESSERA_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "TESSERA_FUZZ needs clang (CXX=clang++): libFuzzer is part of LLVM")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

function(tessera_module name)
  file(GLOB_RECURSE _sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(NOT _sources)  # header-only for now
    add_library(tessera_${name} INTERFACE)
    target_include_directories(tessera_${name} INTERFACE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(tessera_${name} INTERFACE ${ARGN})
    return()
  endif()
  add_library(tessera_${name} STATIC ${_sources})
  target_include_directories(tessera_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(tessera_${name} PRIVATE ${TESSERA_WARNINGS})
  target_link_libraries(tessera_${name} PUBLIC ${ARGN})
endfunction()

# tessera_test_suite(NAME LABEL DEPS...) builds tests/<dir>/*_test.cpp into one GoogleTest binary.
function(tessera_test_suite name label)
  file(GLOB _sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp)
  file(GLOB _helpers CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  list(REMOVE_ITEM _helpers ${_sources})
  if(NOT _sources)
    return()
  endif()
  add_executable(${name}_tests ${_sources} ${_helpers})
  target_compile_options(${name}_tests PRIVATE ${TESSERA_WARNINGS})
  target_include_directories(${name}_tests PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(${name}_tests PRIVATE TESSERA_SHARED_DIR="${TESSERA_SHARED_DIR}")
  target_link_libraries(${name}_tests PRIVATE ${ARGN} GTest::gtest_main)
  gtest_discover_tests(${name}_tests PROPERTIES LABELS ${label} DISCOVERY_TIMEOUT 60)
  # Collected for the tessera_unit_tests target (tests/CMakeLists.txt): what `ctest -L unit` runs.
  if(label STREQUAL "unit")
    set_property(GLOBAL APPEND PROPERTY TESSERA_UNIT_TEST_TARGETS ${name}_tests)
  endif()
endfunction()
