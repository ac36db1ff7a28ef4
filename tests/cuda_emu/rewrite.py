#!/usr/bin/env python3
"""Turns a .cu file into C++ for the CUDA emulator (tests/cuda_emu/cuemu.h): every launch
`kernel<<<grid, block[, smem[, stream]]>>>(args)` becomes `::cuemu::launch(grid, block, smem,
stream, kernel, args)`, and `extern __shared__ T name[];` a pointer to the launch's dynamic
shared memory. Everything else is left to the macros of cuemu.h. Usage: rewrite.py IN OUT"""
import re
import sys


def split_top(s):
    """Splits s at commas outside (), [] and {}."""
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return [p.strip() for p in parts]


def callee_start(src, end):
    """The start of the kernel expression that ends at src[end] (exclusive): a name with `::`
    and template arguments."""
    i = end
    while True:
        j = i
        while j > 0 and src[j - 1].isspace():
            j -= 1
        if j > 0 and src[j - 1] == ">":  # template arguments
            depth, k = 0, j - 1
            while k >= 0:
                if src[k] == ">":
                    depth += 1
                elif src[k] == "<":
                    depth -= 1
                    if depth == 0:
                        break
                k -= 1
            j = k
        k = j
        while k > 0 and (src[k - 1].isalnum() or src[k - 1] == "_"):
            k -= 1
        if k > 1 and src[k - 2:k] == "::":
            i = k - 2
            continue
        return k


def matching(src, i, open_ch, close_ch):
    depth = 0
    for k in range(i, len(src)):
        if src[k] == open_ch:
            depth += 1
        elif src[k] == close_ch:
            depth -= 1
            if depth == 0:
                return k
    raise SystemExit(f"unbalanced {open_ch} at offset {i}")


def rewrite(src):
    out, pos = [], 0
    while True:
        i = src.find("<<<", pos)
        if i < 0:
            out.append(src[pos:])
            break
        j = src.find(">>>", i)
        start = callee_start(src, i)
        callee = src[start:i].strip()
        cfg = split_top(src[i + 3:j])
        while len(cfg) < 4:
            cfg.append("0")
        k = j + 3
        while src[k].isspace():
            k += 1
        if src[k] != "(":
            raise SystemExit(f"a launch without arguments at offset {i}")
        close = matching(src, k, "(", ")")
        args = src[k + 1:close].strip()
        out.append(src[pos:start])
        call = f"::cuemu::launch({cfg[0]}, {cfg[1]}, {cfg[2]}, {cfg[3]}, {callee}"
        call += f", {args})" if args else ")"
        # Keep the line count, so compiler messages name the original lines.
        out.append(call + "\n" * src[start:close + 1].count("\n"))
        pos = close + 1
    text = "".join(out)
    return re.sub(
        r"extern\s+__shared__\s+(?:__align__\(\s*\d+\s*\)\s+)?([\w:\s]+?)\s*(\w+)\s*\[\s*\]\s*;",
        lambda m: f"{m.group(1)}* {m.group(2)} = static_cast<{m.group(1)}*>(::cuemu::dynamic_shared());",
        text)


def main():
    src_path, out_path = sys.argv[1], sys.argv[2]
    with open(src_path) as f:
        src = f.read()
    text = f'#line 1 "{src_path}"\n' + rewrite(src)
    try:
        with open(out_path) as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(out_path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
