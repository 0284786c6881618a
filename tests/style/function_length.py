#!/usr/bin/env python3
"""Fails when a function in the given C files is longer than the limit.

A function's length is counted from the first line of its signature to its
closing brace, as a reader sees it. Strings, character literals and comments
are skipped when braces are matched. Usage:
    function_length.py MAX_LINES FILE...
"""
import re
import sys


def strip_code(text):
    """The text with comments, strings and char literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r'[^\n]', ' ', text[i:j]))
            i = j
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i))
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == '\\' else 1
            out.append(c + re.sub(r'[^\n]', ' ', text[i + 1:j]) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def functions(path):
    """Yields (name, first line, last line) of each function defined in path."""
    code = strip_code(open(path, encoding='utf-8').read())
    depth, head_start, start, name = 0, 0, None, None
    for i, c in enumerate(code):
        if c == '{':
            if depth == 0:
                head = code[head_start:i]
                m = re.search(r'(\w+)\s*\([^;]*\)\s*$', head)
                if m and '=' not in head.split('(')[0]:
                    name = m.group(1)
                    first = head_start + len(head) - len(head.lstrip())
                    start = code.count('\n', 0, first) + 1
            depth += 1
        elif c == '}':
            depth -= 1
            if depth == 0:
                if start is not None:
                    yield name, start, code.count('\n', 0, i) + 1
                start = None
                head_start = i + 1
        elif c == ';' and depth == 0:
            head_start = i + 1
        elif c == '#' and depth == 0 and (i == 0 or code[i - 1] == '\n'):
            head_start = code.find('\n', i) + 1 or len(code)


def main():
    limit = int(sys.argv[1])
    bad = []
    for path in sys.argv[2:]:
        for name, first, last in functions(path):
            if last - first + 1 > limit:
                bad.append(f'{path}:{first}: {name}() is {last - first + 1} lines (limit {limit})')
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
