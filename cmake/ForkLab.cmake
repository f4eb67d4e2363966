# Helpers shared by every chapter's build.

# FORKLAB_SUBMISSION: a folder laid out like exercises/ (DIR/03_prefork_flock/accept_lock.cpp ...)
# whose seam files replace the starters in the exercise builds; a file missing there means the
# starter. Empty: the starters.
set(FORKLAB_SUBMISSION "" CACHE PATH "A student's submission, laid out like exercises/")

# forklab_submission_file(<out var> <path>)
#
# The file the exercise builds compile for <path> (a file under exercises/): the submission's
# copy when FORKLAB_SUBMISSION has one, else <path> itself.
function(forklab_submission_file out path)
  set(result ${path})
  if(FORKLAB_SUBMISSION)
    cmake_path(IS_PREFIX PROJECT_SOURCE_DIR "${path}" NORMALIZE under_source)
    file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR}/exercises ${path})
    if(under_source AND NOT rel MATCHES "^\\.\\.")
      cmake_path(ABSOLUTE_PATH FORKLAB_SUBMISSION NORMALIZE OUTPUT_VARIABLE dir)
      if(EXISTS ${dir}/${rel})
        set(result ${dir}/${rel})
      endif()
    endif()
  endif()
  set(${out} ${result} PARENT_SCOPE)
endfunction()

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
    forklab_submission_file(seam ${arg_EXERCISE_SEAM})
    add_executable(ex${name} main.cpp ${seam})
    target_link_libraries(ex${name} PRIVATE ${parts})
    target_include_directories(ex${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})  # the seam's header
  endif()
endfunction()

# forklab_behaviour_tests(<NN_name> SOURCES <files...> [LIBRARIES <libs...>]
#                         [EXERCISE_UNIT_TESTS <targets...>])
#
# Builds `tests_NN_name` (GoogleTest, linked with the harness) and registers each test twice:
#   - against chNN_name, labels "chNN;behaviour" (what plain `ctest` runs),
#   - against exNN_name, labels "exNN;exercise" (what `ctest --preset exercises` runs).
# The binary under test is passed in FORKLAB_SERVER.
#
# EXERCISE_UNIT_TESTS <targets...>: unit-test binaries built with the student's seam (the seam's
# file named under exercises/; FORKLAB_SUBMISSION swaps it like exNN's).
#
# Grading. The tests of tests_NN_name and of the EXERCISE_UNIT_TESTS are the exercise's graded
# tests; tests/NN_name/points.txt gives each its points. Configure fails when a graded test is
# missing from the table or the table names a test that does not exist. The grader's manifest
# goes to <build>/grade/exNN.manifest; targets:
#   - grade_exNN: builds the student's version and grades it (tests/grader/grade.cpp);
#   - grade_build_exNN: only builds what grading exNN runs;
#   - grade_all (top-level CMakeLists.txt): every exercise, ending in `Total: X/Y`.
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
    foreach(unit IN LISTS arg_EXERCISE_UNIT_TESTS)
      get_target_property(sources ${unit} SOURCES)
      set(swapped "")
      foreach(src IN LISTS sources)
        cmake_path(ABSOLUTE_PATH src BASE_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} NORMALIZE)
        forklab_submission_file(src ${src})
        list(APPEND swapped ${src})
      endforeach()
      set_property(TARGET ${unit} PROPERTY SOURCES ${swapped})
    endforeach()
    forklab_grading(${name} ${bin} "${arg_SOURCES}" "${arg_EXERCISE_UNIT_TESTS}")
  endif()
endfunction()

# forklab_graded_tests(<out var> <binary target> <sources...>)
#
# "<binary target>|Suite.Name" for every TEST or TEST_F that the sources (in the current source
# directory) define.
function(forklab_graded_tests out target)
  set(found "")
  foreach(src IN LISTS ARGN)
    cmake_path(ABSOLUTE_PATH src BASE_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} NORMALIZE)
    cmake_path(IS_PREFIX CMAKE_CURRENT_SOURCE_DIR "${src}" NORMALIZE ours)
    if(NOT ours OR NOT src MATCHES "\\.cpp$")
      continue()  # the seam itself, a chapter's file: no tests there
    endif()
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${src})
    file(READ ${src} text)
    string(REGEX MATCHALL "\n(TEST|TEST_F)\\([ \t\n]*[A-Za-z0-9_]+[ \t\n]*,[ \t\n]*[A-Za-z0-9_]+"
           macros "${text}")
    foreach(m IN LISTS macros)
      string(REGEX REPLACE "^\n(TEST|TEST_F)\\([ \t\n]*([A-Za-z0-9_]+)[ \t\n]*,[ \t\n]*([A-Za-z0-9_]+)$"
             "\\2.\\3" test "${m}")
      list(APPEND found "${target}|${test}")
    endforeach()
  endforeach()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

# forklab_grading(<NN_name> <behaviour binary> <behaviour sources> <unit-test targets>)
#
# Checks the exercise's points table against its tests and writes the grader's manifest and
# targets (see forklab_behaviour_tests).
function(forklab_grading name bin sources units)
  string(SUBSTRING ${name} 0 2 nn)
  set(table ${CMAKE_CURRENT_SOURCE_DIR}/points.txt)
  if(NOT EXISTS ${table})
    message(FATAL_ERROR "exercise ${nn}: no points table ${table} (one line per graded test: "
                        "Suite.Name points)")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${table})
  forklab_graded_tests(tests ${bin} ${sources})
  foreach(unit IN LISTS units)
    get_target_property(unit_sources ${unit} SOURCES)
    forklab_graded_tests(more ${unit} ${unit_sources})
    list(APPEND tests ${more})
  endforeach()
  # The table: "Suite.Name points [may-skip]" per line, # comments.
  file(STRINGS ${table} lines)
  set(listed "")
  set(errors "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^[ \t]*(#.*)?$")
      continue()
    endif()
    if(NOT line MATCHES "^([A-Za-z0-9_]+\\.[A-Za-z0-9_]+)[ \t]+([0-9]+)([ \t]+may-skip)?[ \t]*$")
      string(APPEND errors "\n  bad line in points.txt: '${line}'")
      continue()
    endif()
    set(test ${CMAKE_MATCH_1})
    if(test IN_LIST listed)
      string(APPEND errors "\n  ${test} is listed twice")
    endif()
    list(APPEND listed ${test})
    set(points_${test} ${CMAKE_MATCH_2})
    set(flag_${test} "")
    if(CMAKE_MATCH_3)
      set(flag_${test} " may-skip")
    endif()
  endforeach()
  set(manifest "exercise ex${nn} ${name}\nserver $<TARGET_FILE:ex${name}>\n")
  set(names "")
  foreach(entry IN LISTS tests)
    string(REPLACE "|" ";" parts ${entry})
    list(GET parts 0 target)
    list(GET parts 1 test)
    list(APPEND names ${test})
    if(NOT DEFINED points_${test})
      string(APPEND errors "\n  ${test} (a test of ${target}) has no points in points.txt")
      continue()
    endif()
    string(APPEND manifest "test $<TARGET_FILE:${target}> ${test} ${points_${test}}${flag_${test}}\n")
  endforeach()
  foreach(test IN LISTS listed)
    if(NOT test IN_LIST names)
      string(APPEND errors "\n  points.txt lists ${test}, which no graded test binary defines")
    endif()
  endforeach()
  if(errors)
    message(FATAL_ERROR "exercise ${nn}: the points table ${table} and the tests disagree:${errors}")
  endif()
  set(manifest_file ${CMAKE_BINARY_DIR}/grade/ex${nn}.manifest)
  file(GENERATE OUTPUT ${manifest_file} CONTENT "${manifest}")
  add_custom_target(grade_build_ex${nn})
  add_dependencies(grade_build_ex${nn} forklab_grade forklab_keeper ${bin} ex${name} ${units})
  add_custom_target(grade_ex${nn}
    COMMAND forklab_grade --out ${CMAKE_BINARY_DIR}/grade/ex${nn} ${manifest_file}
    USES_TERMINAL
    COMMENT "Grading exercise ${name}"
    VERBATIM)
  add_dependencies(grade_ex${nn} grade_build_ex${nn})
  set_property(GLOBAL APPEND PROPERTY FORKLAB_GRADED ex${nn})
  set_property(GLOBAL APPEND PROPERTY FORKLAB_MANIFESTS ${manifest_file})
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
