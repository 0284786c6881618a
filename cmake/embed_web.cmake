# Writes OUT, a C source holding every file under WEB_DIR (the pages and
# assets) for src/http/static.c to serve when no `web` directory is
# configured: one array of bytes per file, and static_embedded[], one row per
# file (its path relative to WEB_DIR, its bytes, its length and its ETag),
# sorted by path and ended by a row whose path is NULL.
#
#   cmake -DWEB_DIR=web -DOUT=build/web_embedded.c -P cmake/embed_web.cmake
#
# The ETag is "<length in hex>-<the first 16 hex digits of the content's
# SHA-256>": it changes whenever the content does. Files whose path static.c
# would refuse (hidden files such as an editor's .swp, names with other
# characters) are left out. Each array ends with a 0 byte that the length
# does not count, so a page can also be read as a C string.
cmake_minimum_required(VERSION 3.25)
if(NOT WEB_DIR OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DWEB_DIR=<dir> -DOUT=<file.c> -P embed_web.cmake")
endif()

file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE ${WEB_DIR} ${WEB_DIR}/*)
list(SORT files)
# static_path_ok(): segments of [A-Za-z0-9._-] that do not start with '.'.
set(segment "[A-Za-z0-9_-][A-Za-z0-9._-]*")
string(REPEAT "0x[0-9a-f][0-9a-f]," 16 line)
set(arrays "")
set(rows "")
set(n 0)
foreach(rel ${files})
  if(NOT rel MATCHES "^${segment}(/${segment})*$")
    message(STATUS "embed_web: ${rel} left out (not a path static.c serves)")
    continue()
  endif()
  file(READ ${WEB_DIR}/${rel} hex HEX)
  file(SHA256 ${WEB_DIR}/${rel} sha)
  string(LENGTH "${hex}" hex_len)
  math(EXPR len "${hex_len} / 2")
  math(EXPR len_hex "${len}" OUTPUT_FORMAT HEXADECIMAL)
  string(REGEX REPLACE "^0x" "" len_hex "${len_hex}")
  string(SUBSTRING "${sha}" 0 16 sha16)
  # 16 bytes a line: "0x3c,0x21,..."
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")
  string(APPEND arrays "/* ${rel} */\nstatic const uint8_t file${n}[] = {\n    ${bytes}0};\n")
  string(APPEND rows "    {\"${rel}\", file${n}, ${len}, \"\\\"${len_hex}-${sha16}\\\"\"},\n")
  math(EXPR n "${n} + 1")
endforeach()

set(text "/* Generated from web/ by cmake/embed_web.cmake at build time: do not edit. */\n")
string(APPEND text "#include <stdint.h>\n\n#include \"http/static.h\"\n\n${arrays}\n")
string(APPEND text "const struct static_embedded static_embedded[] = {\n${rows}    {0},\n};\n")
# Whole or not at all: a build stopped midway leaves no half file behind.
file(WRITE ${OUT}.tmp "${text}")
file(RENAME ${OUT}.tmp ${OUT})
