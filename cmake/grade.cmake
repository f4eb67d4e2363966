# Runs the test binaries of one exercise against the student's build and adds up their points.
#   cmake -DSERVER=<exNN binary> -DBINARIES="<test binary>;..." -P cmake/grade.cmake
# Each binary prints its own grade sheet (FORKLAB_GRADE=1); this script prints the total and
# fails unless every point was earned.
set(earned 0)
set(total 0)
foreach(bin IN LISTS BINARIES)
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env FORKLAB_SERVER=${SERVER} FORKLAB_GRADE=1 ${bin}
    OUTPUT_VARIABLE out
    ECHO_OUTPUT_VARIABLE ECHO_ERROR_VARIABLE
    RESULT_VARIABLE rc)
  if(out MATCHES "Score: ([0-9]+)/([0-9]+)")
    math(EXPR earned "${earned} + ${CMAKE_MATCH_1}")
    math(EXPR total "${total} + ${CMAKE_MATCH_2}")
  else()
    message(WARNING "${bin} printed no score (exit code ${rc})")
    set(total -1)
  endif()
endforeach()
if(total GREATER 0)
  message("Total score: ${earned}/${total}")
endif()
if(NOT total GREATER 0 OR earned LESS total)
  message(FATAL_ERROR "not full marks yet")
endif()
