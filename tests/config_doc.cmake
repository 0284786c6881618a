# The key table of docs/configuration.md is generated from config_keys[] in
# src/app/config.c, by `onair --help-markdown`, between the lines
# <!-- config-table:begin --> and <!-- config-table:end -->.
#
#   ctest -R docs.config_table          fails, with the diff, when they differ
#   cmake --build BUILD --target config-doc   rewrites the table in the docs
#
# Include this file where the onair target exists (the top-level
# CMakeLists.txt, after add_executable(onair)):
#   include(${PROJECT_SOURCE_DIR}/tests/config_doc.cmake)
set(CONFIG_DOC_ARGS
    -DONAIR=$<TARGET_FILE:onair>
    -DDOC=${PROJECT_SOURCE_DIR}/docs/configuration.md
    -DWORK=${CMAKE_CURRENT_BINARY_DIR})
add_test(NAME docs.config_table
         COMMAND ${CMAKE_COMMAND} ${CONFIG_DOC_ARGS}
                 -P ${CMAKE_CURRENT_LIST_DIR}/config_doc_check.cmake)
set_tests_properties(docs.config_table PROPERTIES LABELS docs TIMEOUT 60)
add_custom_target(config-doc
                  COMMAND ${CMAKE_COMMAND} ${CONFIG_DOC_ARGS} -DUPDATE=1
                          -P ${CMAKE_CURRENT_LIST_DIR}/config_doc_check.cmake
                  COMMENT "docs/configuration.md: key table from onair --help-markdown"
                  VERBATIM)
add_dependencies(config-doc onair)
