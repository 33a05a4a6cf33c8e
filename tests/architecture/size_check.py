#!/usr/bin/env python3
"""Keeps the sources readable: no source file over 600 lines outside tests/, and no function over
150 lines anywhere, except the data tables listed in size_check.allow (a function that is one
list of entries, read as a table). Generated and vendored files are not sources.

C++ and JavaScript are read with a brace scanner, not a parser: comments, strings and template
literals are blanked first, then a block counts as a function when its head (the text before
its `{`) ends like a parameter list or an arrow, and no enclosing block is already one. A
top-level immediately invoked function is a script's module scope, not a function.

Usage: size_check.py [ROOT]          check ROOT (default: this repository)
       size_check.py --report [ROOT]  also list the longest functions and files
       size_check.py --self-test      check that the scanner finds what it must
"""
import pathlib
import re
import subprocess
import sys

MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 150
SOURCE_SUFFIXES = {".cpp", ".hpp", ".js", ".mjs"}
NOT_SOURCES = ("http/swagger-ui/", "node_modules/", "fuzz/corpus/")

HEAD_IS_FUNCTION = re.compile(
    r"(\)\s*(const\s*)?(noexcept\s*)?(override\s*)?(final\s*)?(mutable\s*)?"
    r"(->\s*[\w:<>,\s\*&]+)?|=>\s*)$")
HEAD_IS_TYPE_OR_SCOPE = re.compile(r"\b(namespace|class|struct|union|enum|extern)\b")


def blank_comments_and_strings(text: str) -> str:
    """The text with comments, string and character literals replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        two = text[i:i + 2]
        if two == "//":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif two == "/*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not text[i - 1].isalnum()):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = text.find(")" + m.group(1) + '"', i)
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'`":
            j = i + 1
            while j < n and text[j] != c:
                if text[j] == "\\":
                    j += 1
                elif c != "`" and text[j] == "\n":
                    break  # an apostrophe in C++14 digit separators, or a stray quote
                j += 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + (c if j - 1 > i else ""))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(text: str):
    """(first line, line count, head) of every outermost function body."""
    code = blank_comments_and_strings(text)
    found = []
    stack = []  # (is_function, start offset, head)
    head_start = 0
    inside_function = 0
    for i, c in enumerate(code):
        if c == "{":
            head = " ".join(code[head_start:i].split())
            # A top-level IIFE, "(() => {" or "(function () {", is a JavaScript module's scope.
            iife = not stack and head.startswith("(")
            is_function = (not inside_function and not iife and
                           HEAD_IS_FUNCTION.search(head) is not None and
                           not HEAD_IS_TYPE_OR_SCOPE.search(head.split("(")[0]))
            stack.append((is_function, i, head))
            inside_function += is_function
            head_start = i + 1
        elif c == "}":
            if stack:
                is_function, start, head = stack.pop()
                if is_function:
                    inside_function -= 1
                    first = code.count("\n", 0, start) + 1
                    last = code.count("\n", 0, i) + 1
                    found.append((first, last - first + 1, head[-90:]))
            head_start = i + 1
        elif c == ";":
            head_start = i + 1
    return found


def sources(root: pathlib.Path):
    listed = subprocess.run(["git", "-C", str(root), "ls-files"], capture_output=True, text=True,
                            check=True).stdout.split("\n")
    for name in listed:
        path = root / name
        if (name and path.suffix in SOURCE_SUFFIXES and
                not any(part in name for part in NOT_SOURCES) and path.is_file()):
            yield name, path


def self_test():
    """The scanner on made-up sources: what it must count, and what it must not."""
    body = "\n".join(f"  x += {i};" for i in range(160))
    cpp = ("namespace a {\nstruct s {\n  int f() const {\n" + body + "\n  }\n};\n"
           "int g(int x) {\n  if (x) {\n    return \"}{\";\n  }\n  return 1; // }\n}\n}\n")
    js = ("(() => {\n  const f = (a) => {\n" + body + "\n  };\n"
          "  function h() { return `}${1}`; }\n})();\n")
    found_cpp = [(count, head) for _, count, head in functions(cpp)]
    found_js = [(count, head) for _, count, head in functions(js)]
    failures = []
    if [c for c, _ in found_cpp] != [162, 6]:
        failures.append(f"C++: expected a 162-line method and a 6-line function, got {found_cpp}")
    if [c for c, _ in found_js] != [162, 1]:
        failures.append(f"JS: expected a 162-line arrow function and a one-line function inside "
                        f"the IIFE, got {found_js}")
    for failure in failures:
        print("size_check self-test:", failure)
    if not failures:
        print("size_check self-test: the scanner counts methods, functions and arrow functions, "
              "and skips scopes, strings and comments")
    return 1 if failures else 0


def main(argv):
    if "--self-test" in argv:
        return self_test()
    report = "--report" in argv
    args = [a for a in argv if a != "--report"]
    here = pathlib.Path(__file__).resolve().parent
    root = pathlib.Path(args[0]).resolve() if args else here.parent.parent
    allowed = set()  # (path, function name)
    allow_file = here / "size_check.allow"
    for line in allow_file.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            path, name = line.split("\t")[:2]
            allowed.add((path.strip(), name.strip()))
    problems, long_functions, long_files = [], [], []
    for name, path in sources(root):
        text = path.read_text(errors="replace")
        lines = text.count("\n")
        long_files.append((lines, name))
        if lines > MAX_FILE_LINES and not name.startswith("tests/"):
            problems.append(f"{name}: {lines} lines (at most {MAX_FILE_LINES} outside tests/)")
        for first, count, head in functions(text):
            long_functions.append((count, f"{name}:{first}", head))
            listed = any(path == name and f"{function}(" in head for path, function in allowed)
            if count > MAX_FUNCTION_LINES and not listed:
                problems.append(f"{name}:{first}: a function of {count} lines (at most "
                                f"{MAX_FUNCTION_LINES}, or list it in {allow_file.name} if it is "
                                f"a data table): {head}")
    if report:
        print("longest functions:")
        for count, where, head in sorted(long_functions, reverse=True)[:15]:
            print(f"  {count:5} {where}  {head}")
        print("longest files:")
        for lines, name in sorted(long_files, reverse=True)[:10]:
            print(f"  {lines:5} {name}")
    for problem in problems:
        print(problem)
    if problems:
        print(f"size_check: {len(problems)} problem(s)")
        return 1
    print(f"size_check: no source file over {MAX_FILE_LINES} lines outside tests/, no function "
          f"over {MAX_FUNCTION_LINES} lines but the listed tables ({len(long_files)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
