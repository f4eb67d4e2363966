# Helpers shared by every chapter's build.

# forklab_chapter(<NN_name> [SOURCES <files...>] [SEAM <reference seam>]
#                 [EXERCISE_SEAM <student seam>] [LINKS <earlier chapter libraries...>])
#
# A chapter is a small library of what it teaches plus its main.cpp:
#   - forklab_chNN_parts (objects): SOURCES, the chapter's files but main.cpp and the seam;
#   - forklab_chNN (static library): the parts and the reference seam; a later chapter that names
#     this one as its prerequisite links it (LINKS forklab_chNN), never a later one;
#   - chNN_name: main.cpp with forklab_chNN (the reference server);
#   - exNN_name: main.cpp with the parts and the student's seam from exercises/NN_name/ instead of
#     the reference one. The seam is the one translation unit that holds the chapter's key idea.
# Headers are included by chapter: "01_fork_server/spawn.hpp" says where a name is taught.
function(forklab_chapter name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "SEAM;EXERCISE_SEAM" "SOURCES;LINKS")
  string(SUBSTRING ${name} 0 2 nn)
  set(parts forklab_ch${nn}_parts)
  add_library(${parts} OBJECT ${arg_SOURCES})
  target_include_directories(${parts} PUBLIC ${PROJECT_SOURCE_DIR}/chapters)
  target_link_libraries(${parts} PUBLIC forklab ${arg_LINKS})
  add_library(forklab_ch${nn} STATIC ${arg_SEAM})
  target_link_libraries(forklab_ch${nn} PUBLIC ${parts})

  add_executable(ch${name} main.cpp)
  target_link_libraries(ch${name} PRIVATE forklab_ch${nn})
  set_property(GLOBAL APPEND PROPERTY FORKLAB_CHAPTERS ch${name})
  if(arg_EXERCISE_SEAM)
    add_executable(ex${name} main.cpp ${arg_EXERCISE_SEAM})
    target_link_libraries(ex${name} PRIVATE ${parts})
    target_include_directories(ex${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})  # the seam's header
  endif()
endfunction()

# forklab_behaviour_tests(<NN_name> SOURCES <files...> [POINTS_LABEL <label>])
#
# Builds `tests_NN_name` (GoogleTest, linked with the harness) and registers each test twice:
#   - against chNN_name, labels "chNN;behaviour" (what plain `ctest` runs),
#   - against exNN_name, labels "exNN;exercise" (what grading runs).
# The binary under test is passed in FORKLAB_SERVER. It also adds the target `grade_exNN`, which
# builds the student's version and runs the same tests against it, printing points and a score.
#
# EXERCISE_UNIT_TESTS <targets...>: unit-test binaries built with the student's seam; the grade
# target runs them too and adds up the points.
function(forklab_behaviour_tests name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;LIBRARIES;EXERCISE_UNIT_TESTS")
  string(SUBSTRING ${name} 0 2 nn)
  set(bin tests_${name})
  add_executable(${bin} ${arg_SOURCES})
  target_link_libraries(${bin} PRIVATE forklab_harness ${arg_LIBRARIES})
  add_dependencies(${bin} ch${name})
  gtest_discover_tests(${bin}
    TEST_PREFIX "ch${nn}."
    TEST_LIST ${bin}_reference
    DISCOVERY_TIMEOUT 30
    PROPERTIES TIMEOUT 120 ENVIRONMENT "FORKLAB_SERVER=$<TARGET_FILE:ch${name}>")
  forklab_label_tests(${bin}_reference "ch${nn};behaviour")
  if(TARGET ex${name})
    add_dependencies(${bin} ex${name})
    gtest_discover_tests(${bin}
      TEST_PREFIX "ex${nn}."
      TEST_LIST ${bin}_exercise
      DISCOVERY_TIMEOUT 30
      PROPERTIES TIMEOUT 120 ENVIRONMENT "FORKLAB_SERVER=$<TARGET_FILE:ex${name}>")
    forklab_label_tests(${bin}_exercise "ex${nn};exercise")
    set(binaries "")
    foreach(unit IN LISTS arg_EXERCISE_UNIT_TESTS)
      list(APPEND binaries $<TARGET_FILE:${unit}>)
    endforeach()
    list(APPEND binaries $<TARGET_FILE:${bin}>)
    add_custom_target(grade_ex${nn}
      COMMAND ${CMAKE_COMMAND} -DSERVER=$<TARGET_FILE:ex${name}> "-DBINARIES=${binaries}"
              -P ${PROJECT_SOURCE_DIR}/cmake/grade.cmake
      DEPENDS ${bin} ex${name} ${arg_EXERCISE_UNIT_TESTS}
      USES_TERMINAL
      COMMENT "Grading exercise ${name}"
      VERBATIM)
  endif()
endfunction()

# forklab_label_tests(<test list variable> <labels>)
#
# gtest_discover_tests flattens a list-valued property such as LABELS "ch01;behaviour", so labels
# are set by a script that CTest runs after the discovered tests are known (TEST_INCLUDE_FILES are
# processed in order, after gtest_discover_tests' own).
function(forklab_label_tests list labels)
  set(script ${CMAKE_CURRENT_BINARY_DIR}/${list}_labels.cmake)
  file(WRITE ${script}
    "if(DEFINED ${list})\n"
    "  set_tests_properties(\${${list}} PROPERTIES LABELS \"${labels}\")\n"
    "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${script})
endfunction()

# forklab_unit_tests(<target> LABELS <labels> SOURCES <files...> [LIBRARIES <libs...>])
function(forklab_unit_tests target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "LABELS" "SOURCES;LIBRARIES")
  add_executable(${target} ${arg_SOURCES})
  target_link_libraries(${target} PRIVATE forklab_harness ${arg_LIBRARIES})
  gtest_discover_tests(${target}
    TEST_LIST ${target}_list
    DISCOVERY_TIMEOUT 30
    PROPERTIES TIMEOUT 120)
  forklab_label_tests(${target}_list "${arg_LABELS}")
endfunction()
