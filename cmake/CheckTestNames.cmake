# ctest entry test_names_have_no_semicolons: fails when a Catch2 test name contains ';'.
# catch_discover_tests turns such a name into ctest entries that match no test and
# pass without running anything.  Usage: cmake -DDUEL_TESTS=<duel_tests> -P CheckTestNames.cmake
execute_process(COMMAND "${DUEL_TESTS}" --list-test-names-only
  OUTPUT_VARIABLE names RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 AND NOT rc GREATER 0)
  message(FATAL_ERROR "could not list the test names of ${DUEL_TESTS} (${rc})")
endif()
string(REPLACE ";" "<SEMICOLON>" names "${names}")
string(REPLACE "\n" ";" lines "${names}")
set(bad "")
foreach(line IN LISTS lines)
  if(line MATCHES "<SEMICOLON>")
    string(REPLACE "<SEMICOLON>" ";" line "${line}")
    string(APPEND bad "\n  ${line}")
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "test names with ';' (ctest would silently skip them; use ',' instead):${bad}")
endif()
message(STATUS "no test name contains ';'")
