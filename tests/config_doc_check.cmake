# Compares (or with -DUPDATE=1 replaces) the key table of docs/configuration.md
# with what `onair --help-markdown` prints from config_keys[] in
# src/app/config.c. See tests/config_doc.cmake.
#
#   cmake -DONAIR=path/to/onair -DDOC=docs/configuration.md -DWORK=dir
#         [-DUPDATE=1] -P tests/config_doc_check.cmake
set(begin_marker "<!-- config-table:begin -->\n")
set(end_marker "<!-- config-table:end -->")
set(regenerate "cmake --build <build dir> --target config-doc")

execute_process(COMMAND ${ONAIR} --help-markdown
                OUTPUT_VARIABLE table ERROR_VARIABLE error RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR table STREQUAL "")
  message(FATAL_ERROR "${ONAIR} --help-markdown failed (${rc}): ${error}")
endif()

file(READ ${DOC} doc)
string(FIND "${doc}" "${begin_marker}" begin)
string(FIND "${doc}" "${end_marker}" end)
if(begin LESS 0 OR end LESS begin)
  message(FATAL_ERROR "${DOC}: no line <!-- config-table:begin --> followed by "
                      "<!-- config-table:end --> around the key table")
endif()
string(LENGTH "${begin_marker}" begin_length)
math(EXPR head_length "${begin} + ${begin_length}")
string(SUBSTRING "${doc}" 0 ${head_length} head)
string(SUBSTRING "${doc}" ${end} -1 tail)
set(want "${head}${table}${tail}")

if(want STREQUAL doc)
  message(STATUS "${DOC}: the key table is config_keys[]'s")
elseif(UPDATE)
  file(WRITE ${DOC} "${want}")
  message(STATUS "${DOC}: key table regenerated from config_keys[]")
else()
  set(generated ${WORK}/configuration.md.generated)
  file(WRITE ${generated} "${want}")
  execute_process(COMMAND diff -u ${DOC} ${generated})
  message(FATAL_ERROR "${DOC}: the key table differs from config_keys[] in "
                      "src/app/config.c (diff above: - is the docs, + is the table).\n"
                      "Edit the row in config_keys[], not the docs; then regenerate:\n"
                      "  ${regenerate}")
endif()
