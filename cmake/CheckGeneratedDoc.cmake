# ctest check: docs/options.md equals `duel options --markdown` (regenerate with
#   build/duel options --markdown > docs/options.md).
execute_process(COMMAND "${DUEL_CLI}" options --markdown OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "`duel options --markdown` failed (${rc})")
endif()
file(READ "${DOC}" committed)
if(NOT generated STREQUAL committed)
  message(FATAL_ERROR "${DOC} is out of date: regenerate it with `build/duel options --markdown > docs/options.md`")
endif()
