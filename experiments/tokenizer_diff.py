#!/usr/bin/env python3
"""Differential fuzzer: `aha tokenize` against Hugging Face `tokenizers` on the real DeepSeek-V3 and
Qwen3 tokenizer.json files.

How to run (a Python with `tokenizers` installed, e.g. `pip install tokenizers==0.23.3`; aha
itself never needs it):

    ninja -C build aha
    python3 experiments/tokenizer_diff.py \
        --aha build/aha --tokdir ../shared/data/tokenizers [--n 60] [--grid 2] [--seed 1] \
        [--only qwen3] [--cat emoji] [--show 3] [--no-shrink]

About 1 minute on 2 shared cores with --n 200 --grid 3 (~260k strings per tokenizer); the
defaults take ~20 s. Results and the categories it found: experiments/tokenizer.md.

For every category of generated strings (Unicode general categories, scripts, emoji sequences,
combining marks / NFD, digits of all scripts, whitespace runs, contractions, punctuation, code,
LaTeX, long words, embedded special tokens, random code points, ...) it writes --n strings per
category, plus every string of up to --grid characters over one representative per character
class the regexes tell apart, to one JSONL file, runs `aha tokenize` once per tokenizer on it (and
again with --no-special, compared to HF with `encode_special_tokens = True`), encodes the same strings with
`Tokenizer.encode(text, add_special_tokens=False)`, and compares the ids. Then it checks decoding:
`aha tokenize --decode` on HF's ids (round trip) and on random id sequences (partial UTF-8,
special tokens, `--skip-special`) against `Tokenizer.decode`. Last, input files with invalid UTF-8
or lone surrogates must stop aha with an error naming FILE:LINE.

Each mismatch is shrunk (greedy deletion, one batched aha run per round) to a minimal string and
printed with the category; exit status 1 if anything disagreed.
"""
import argparse
import collections
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import unicodedata as ud

from tokenizers import Tokenizer

# ----------------------------------------------------------------------------- character pools

MAXCP = 0x110000
BY_CAT = collections.defaultdict(list)  # general category -> code points (Python's Unicode)
for _cp in range(MAXCP):
    if 0xD800 <= _cp <= 0xDFFF:
        continue
    BY_CAT[ud.category(chr(_cp))].append(_cp)


def rng_range(rng, lo, hi):
    return chr(rng.randint(lo, hi))


SCRIPTS = {
    'cjk': [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0xF900, 0xFAFF), (0x9FA0, 0x9FFF)],
    'kana': [(0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF65, 0xFF9F)],
    'hangul': [(0xAC00, 0xD7A3), (0x1100, 0x11FF), (0x3130, 0x318F), (0xA960, 0xA97F), (0xD7B0, 0xD7FF)],
    'thai': [(0x0E00, 0x0E7F)],
    'devanagari': [(0x0900, 0x097F), (0xA8E0, 0xA8FF)],
    'bengali_tamil': [(0x0980, 0x09FF), (0x0B80, 0x0BFF)],
    'arabic': [(0x0600, 0x06FF), (0x0750, 0x077F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)],
    'hebrew': [(0x0590, 0x05FF)],
    'greek_cyrillic': [(0x0370, 0x03FF), (0x1F00, 0x1FFF), (0x0400, 0x052F)],
    'latin_ext': [(0x00C0, 0x024F), (0x1E00, 0x1EFF), (0x0250, 0x02FF), (0xFF21, 0xFF5A)],
    'misc_scripts': [(0x1200, 0x137F), (0x0F00, 0x0FFF), (0x10A0, 0x10FF), (0x0530, 0x058F),
                     (0x1000, 0x109F), (0x1780, 0x17FF), (0x1800, 0x18AF), (0x13A0, 0x13FF)],
    'math_alnum': [(0x1D400, 0x1D7FF), (0x2100, 0x214F), (0x2200, 0x22FF)],
}
RTL_MARKS = ['\u200f', '\u200e', '\u061c', '\u202b', '\u202a', '\u202c', '\u202e', '\u2066', '\u2067', '\u2069']
WS = [' ', ' ', '  ', '\t', '\n', '\r', '\r\n', '\n\n', '\x0b', '\x0c', '\x85', '\xa0', '\u1680',
      '\u2000', '\u2003', '\u2009', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000',
      '\u200b', '\ufeff', '\x1c', '\x1f', '\u180e', '\u200d']
WORDS = ['hello', 'world', 'The', 'cat', 'x', 'I', 'a', 'naïve', 'über', 'Zoë', 'déjà', '中文',
         'Привет', 'مرحبا', 'ไทย', 'नमस्ते', '한국어', 'İstanbul', 'ß', 'ﬁne', 'OK', 'don', 'we']
PUNCT = list('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~') + ['…', '—', '–', '«', '»', '“', '”', '‘', '’',
                                                   '、', '。', '！', '？', '（', '）', '【', '】',
                                                   '・', '§', '¶', '†', '€', '£', '¥', '©', '®',
                                                   '™', '°', '±', '×', '÷', '→', '⇒', '∀', '∑',
                                                   '√', '∞', '≤', '≥', '≠', '¿', '¡', '·', '•']
APOS = ["'", "'", '’', '‘', 'ʼ', '`', '´', '＇']
CONTR = ['s', 't', 're', 've', 'm', 'll', 'd', 'S', 'T', 'RE', 'Re', 'rE', 'VE', 'Ve', 'M', 'LL',
         'Ll', 'lL', 'D', 'ſ', 'K', 'x', 'st', 'dd', 'lle', 'ver', '']
COMBINING = [0x300, 0x301, 0x302, 0x303, 0x308, 0x30A, 0x323, 0x327, 0x328, 0x331, 0x345, 0x35C,
             0x360, 0x1AB0, 0x1DC0, 0x20D0, 0x20E3, 0x302A, 0x3099, 0x309A, 0x093C, 0x094D, 0x0E31,
             0x0E48, 0x05B0, 0x064B, 0x0651, 0x0670, 0xFE20, 0x1D165, 0x1D167, 0x0F71, 0x0F72]
EMOJI_BASE = [0x1F600, 0x1F44D, 0x1F469, 0x1F468, 0x1F9D1, 0x1F466, 0x1F467, 0x1F3C3, 0x1F46A,
              0x2764, 0x263A, 0x1F3F3, 0x1F3F4, 0x1F308, 0x1F525, 0x1F680, 0x2B50, 0x1FAE0, 0x1F9FF]
SKIN = [0x1F3FB, 0x1F3FC, 0x1F3FD, 0x1F3FE, 0x1F3FF]
FLAGS = ['FR', 'US', 'JP', 'CN', 'DE', 'GB', 'IN', 'BR', 'KR', 'ZZ', 'XK']


def flag(cc):
    return ''.join(chr(0x1F1E6 + ord(c) - ord('A')) for c in cc)


def emoji_seq(rng):
    kind = rng.randrange(7)
    e = chr(rng.choice(EMOJI_BASE))
    if kind == 0:
        return e + chr(rng.choice(SKIN))
    if kind == 1:
        return '\u200d'.join(chr(rng.choice(EMOJI_BASE)) + rng.choice(['', '\ufe0f', chr(rng.choice(SKIN))])
                             for _ in range(rng.randint(2, 4)))
    if kind == 2:
        return flag(rng.choice(FLAGS)) + rng.choice(['', flag(rng.choice(FLAGS)), chr(0x1F1E6)])
    if kind == 3:
        return rng.choice('#*0123456789') + rng.choice(['\ufe0f\u20e3', '\u20e3', '\ufe0e'])
    if kind == 4:  # tag sequence (England flag) and variation selectors
        return '\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F'
    if kind == 5:
        return rng.choice(['\u2764\ufe0f', '\u2764\ufe0e', '\u263a\ufe0f', '\u00a9\ufe0f',
                           '\u845b\U000E0100', '\u8fbb\U000E0101'])
    return chr(rng.randint(0x1F300, 0x1FAFF))


def rand_word(rng, alphabet='abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'):
    return ''.join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))


def filler(rng):
    r = rng.random()
    if r < 0.4:
        return rng.choice(WORDS)
    if r < 0.7:
        return rng.choice(WS)
    if r < 0.85:
        return rng.choice(PUNCT)
    return str(rng.randint(0, 99999))


def mix(rng, gen, k=None):
    """A string of k items from gen interleaved with filler."""
    k = k or rng.randint(1, 12)
    out = []
    for _ in range(k):
        out.append(gen() if rng.random() < 0.65 else filler(rng))
    return ''.join(out)


# ----------------------------------------------------------------------------- generators

CODE = [
    'def f(x):\n    return x**2 + 1\n',
    'for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}\n',
    'const x = arr.map((v) => v * 2);\r\n',
    'if __name__ == "__main__":\n    main()\n',
    '#include <stdio.h>\nint main(void){printf("%d\\n", 42);}\n',
    'SELECT * FROM t WHERE a>=1 AND b<>\'x\';',
    '$ ls -la | grep "^d" && echo $HOME # comment',
    '    \t  x = {"a": [1, 2, 3]}  \n\n\n  ',
    'fn main() -> Result<(), Box<dyn Error>> { Ok(()) }',
    '<div class="a">Hello &amp; bye</div>',
    "print(f'{x!r:>10}') # it's",
    '\t\t\treturn;\n\t}\n}',
    'x+=1;y-=2;z*=3;w/=4;a%=5;b**=6;c//=7;d>>=8;e<<=9;f&=1;g|=2;h^=3',
    '    """Docstring.\n\n    Args:\n        x: int\n    """',
]
LATEX = [
    r'\frac{a}{b} + \sqrt{x^2+y^2}', r'$\int_0^\infty e^{-x^2}\,dx = \frac{\sqrt{\pi}}{2}$',
    r'\begin{align} a &= b \\ c &= d \end{align}', r'\mathbb{R}^{n\times n}', r'\left(\sum_{i=1}^{n} i\right)^2',
    r'\boxed{42}', r'$$x_{1,2}=\frac{-b\pm\sqrt{b^2-4ac}}{2a}$$', r'\alpha\beta\gamma', r'10^{-3}\,\mathrm{m}',
    r'\text{if } x \geq 0', r'a \cdot b \approx 3.14159', r'\{x \mid x \in \mathbb{N}\}',
]


def g_category(cat):
    pool = BY_CAT[cat]

    def gen(rng):
        return mix(rng, lambda: ''.join(chr(rng.choice(pool)) for _ in range(rng.randint(1, 4))))
    return gen


def g_script(name):
    rs = SCRIPTS[name]

    def one(rng):
        lo, hi = rng.choice(rs)
        return ''.join(rng_range(rng, lo, hi) for _ in range(rng.randint(1, 8)))

    def gen(rng):
        s = mix(rng, lambda: one(rng))
        if name in ('arabic', 'hebrew') and rng.random() < 0.7:
            s = ''.join(c + (rng.choice(RTL_MARKS) if rng.random() < 0.2 else '') for c in s)
        return s
    return gen


def g_emoji(rng):
    return mix(rng, lambda: emoji_seq(rng))


def g_combining(rng):
    def one():
        base = rng.choice(['a', 'e', 'o', 'u', 'A', 'n', 'c', 'ω', 'α', 'и', 'ㄱ', 'क', 'ا', ' ', '1', '.', '가', '\u1100', '']
                          + [chr(rng.randint(0xC0, 0x24F))])
        return base + ''.join(chr(rng.choice(COMBINING)) for _ in range(rng.randint(0, 4)))
    return mix(rng, one)


def g_nfd(rng):
    def one():
        lo, hi = rng.choice([(0xC0, 0x24F), (0x1E00, 0x1FFF), (0xAC00, 0xD7A3), (0x0390, 0x03CE),
                             (0x0400, 0x045F), (0x0900, 0x0DFF), (0x3040, 0x30FF), (0xF900, 0xFAFF),
                             (0x2000, 0x2BFF), (0x1D15E, 0x1D1C0), (0x2F800, 0x2FA1D), (0x0340, 0x0345)])
        s = ''.join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 5)))
        return rng.choice([ud.normalize('NFD', s), ud.normalize('NFKD', s), s, ud.normalize('NFC', s)])
    return mix(rng, one)


NFC_POOL = sorted(set(cp for cp in range(MAXCP) if not 0xD800 <= cp <= 0xDFFF and (
    ud.combining(chr(cp)) or ud.decomposition(chr(cp)) and not ud.decomposition(chr(cp)).startswith('<'))))
NFC_SECOND = sorted(set(int(ud.decomposition(chr(cp)).split()[-1], 16) for cp in NFC_POOL
                        if ud.decomposition(chr(cp)) and not ud.decomposition(chr(cp)).startswith('<')))


def g_nfc_stress(rng):
    """Characters with a canonical decomposition, combining marks, composition seconds, jamo."""
    def one():
        r = rng.random()
        if r < 0.4:
            return chr(rng.choice(NFC_POOL))
        if r < 0.6:
            return chr(rng.choice(NFC_SECOND))
        if r < 0.7:
            return chr(rng.choice([0x1100, 0x1112, 0x1161, 0x1175, 0x11A8, 0x11C2, 0xAC00, 0xAC01, 0xD7A3]))
        if r < 0.8:
            return ud.normalize('NFD', chr(rng.choice(NFC_POOL)))
        return rng.choice('aeoAEO ')
    return ''.join(one() for _ in range(rng.randint(1, 8)))


def g_digits(rng):
    nd = BY_CAT['Nd']

    def one():
        r = rng.random()
        if r < 0.3:
            return ''.join(rng.choice('0123456789') for _ in range(rng.randint(1, 40)))
        if r < 0.5:
            return ''.join(chr(rng.choice(nd)) for _ in range(rng.randint(1, 10)))
        if r < 0.6:
            return ''.join(chr(rng.choice(BY_CAT['No'] + BY_CAT['Nl'])) for _ in range(rng.randint(1, 5)))
        if r < 0.8:
            return rng.choice(['1,234,567.89', '3.14159', '-42', '1e-10', '0x1F', '2024-01-01', '12:30',
                               '1/2', '50%', '$100', '１２３', '٣٤٥', '१२३', '½', '²³', 'Ⅻ', '①②', '10⁻³',
                               'v1.2.3', 'a1b2c3', 'x²', 'H₂O'])
        return str(rng.randint(0, 10 ** rng.randint(1, 30)))
    return mix(rng, one)


def g_whitespace(rng):
    def one():
        return ''.join(rng.choice(WS) for _ in range(rng.randint(1, 8)))
    s = mix(rng, one)
    if rng.random() < 0.3:
        s = one() + s + one()
    return s


def g_contraction(rng):
    def one():
        w = rng.choice(['I', 'you', 'he', 'it', 'we', 'they', 'don', 'can', 'IT', 'WE', 'O', 'rock', '', ' ', '1', '中', 'é'])
        return w + rng.choice(APOS) + rng.choice(CONTR) + rng.choice(['', ' ', 'x', 'ing', '.', "'", '\n'])
    return mix(rng, one)


def g_punct(rng):
    def one():
        s = ''.join(rng.choice(PUNCT) for _ in range(rng.randint(1, 8)))
        return rng.choice(['', ' ', '  ', '\n']) + s + rng.choice(['', '\n', '\r\n', '\n\n', 'abc', ' x', 'É', '中'])
    return mix(rng, one)


def g_code(rng):
    return ''.join(rng.choice(CODE) for _ in range(rng.randint(1, 3)))


def g_latex(rng):
    return mix(rng, lambda: rng.choice(LATEX))


def g_long(rng):
    r = rng.random()
    if r < 0.2:
        return rng.choice('ab ') * rng.randint(30, 3000)
    if r < 0.4:
        return ''.join(rng.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(rng.randint(33, 600)))
    if r < 0.5:
        return ''.join(rng_range(rng, 0x4E00, 0x9FA5) for _ in range(rng.randint(20, 400)))
    if r < 0.6:
        return ''.join(rng.choice('0123456789') for _ in range(rng.randint(50, 2000)))
    if r < 0.7:
        return 'Donaudampfschifffahrtsgesellschaftskapitän' * rng.randint(1, 20)
    if r < 0.8:
        return ''.join(emoji_seq(rng) for _ in range(rng.randint(10, 100)))
    if r < 0.9:
        return rng.choice(['=', '-', '*', '#', '~', '.', ' ', '\n', '\t']) * rng.randint(30, 2000)
    return ''.join(chr(rng.randint(0xC0, 0x2FF)) for _ in range(rng.randint(30, 500)))


def g_special(specials):
    def gen(rng):
        def one():
            t = rng.choice(specials)
            r = rng.random()
            if r < 0.15:
                t = t[:rng.randint(1, len(t) - 1)] if len(t) > 1 else t
            elif r < 0.25:
                t = t + t
            elif r < 0.35:
                t = t[:-1] + t
            elif r < 0.45:
                k = rng.randint(0, len(t))
                t = t[:k] + rng.choice([' ', 'x', '\n', '|']) + t[k:]
            return t
        return mix(rng, one)
    return gen


MARKS = [cp for cp in range(0x300, 0x30000) if ud.combining(chr(cp))]


def g_stacked_marks(rng):
    """Long runs of combining marks of mixed classes ("Zalgo" text): NFC's sort on long runs."""
    base = rng.choice(['a', 'e', ' ', '', '中', 'ω', '1'])
    pool = rng.sample(MARKS, rng.randint(2, 12))
    return mix(rng, lambda: base + ''.join(chr(rng.choice(pool)) for _ in range(rng.randint(20, 3000))), 3)


def g_control(rng):
    pool = list(range(0, 32)) + [0x7F] + list(range(0x80, 0xA0)) + BY_CAT['Cf'][:200] + [0xFFFE, 0xFFFF, 0xFFFD]
    return mix(rng, lambda: ''.join(chr(rng.choice(pool)) for _ in range(rng.randint(1, 4))))


def g_random_cp(rng):
    def one():
        r = rng.random()
        if r < 0.5:
            cp = rng.randint(0, 0x2FFFF)
        elif r < 0.8:
            cp = rng.randint(0, 0x7FF)
        else:
            cp = rng.randint(0, MAXCP - 1)
        if 0xD800 <= cp <= 0xDFFF:
            cp = 0xFFFD
        return chr(cp)
    return ''.join(one() for _ in range(rng.randint(0, 30)))


def g_random_bytes(rng):
    """Random bytes, decoded as UTF-8 with U+FFFD for invalid ones (valid UTF-8 only)."""
    b = bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 40)))
    return b.decode('utf-8', errors='replace')


def g_unassigned(rng):
    """Code points unassigned in Python's Unicode (14.0): newer characters, noncharacters."""
    pool = BY_CAT['Cn']
    return mix(rng, lambda: ''.join(chr(rng.choice(pool)) for _ in range(rng.randint(1, 3))))


def g_unassigned_near(rng):
    """Code points from blocks that received characters in Unicode 15.0-16.0."""
    blocks = [(0x11F00, 0x11F5F), (0x1E4D0, 0x1E4FF), (0x31350, 0x323AF), (0x10EC0, 0x10EFF),
              (0x11B00, 0x11B5F), (0x1D2C0, 0x1D2DF), (0x1E030, 0x1E08F), (0x1DF25, 0x1DF2A),
              (0x2EBF0, 0x2EE5D), (0x2FFC, 0x2FFF), (0x31EF, 0x31EF), (0x10D40, 0x10D8F),
              (0x16100, 0x1613F), (0x16D40, 0x16D7F), (0x1E5D0, 0x1E5FF), (0x11BC0, 0x11BFF),
              (0x105C0, 0x105FF), (0x11380, 0x113FF), (0x1CC00, 0x1CEBF), (0x13460, 0x143FF),
              (0x116D0, 0x116FF), (0x1C89, 0x1C8A), (0xA7CB, 0xA7DC), (0x1FA70, 0x1FAFF),
              (0x1F6DC, 0x1F6DF), (0x0CF3, 0x0CF3), (0x0ECE, 0x0ECE), (0x10EFC, 0x10EFF)]

    def one():
        lo, hi = rng.choice(blocks)
        return ''.join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 3)))
    return mix(rng, one)


def g_mixed(rng):
    gens = [g for n, g in BASE_GENS.items() if n not in ('mixed',)]
    return ''.join(rng.choice(gens)(rng) for _ in range(rng.randint(1, 3)))[:3000]


def g_edge(rng):
    return rng.choice(['', ' ', '\n', '\r\n', '\t', '  ', 'a', "'", "'s", ' \n', '\n ', '\u3000', '\xa0',
                       'a\n', '\n\n\n\n', '   a', 'a   ', '\r', '\r\r\n\n', ' \r\n ', '. ', ' .', '<', '>',
                       '<|', '|>', '<｜', '0', '00', '000', '0000', '\u200d', '\ufeff', '\x00', 'é', 'e\u0301'])


# One or two representatives of every class the pre-tokenizer regexes tell apart; the grid
# category enumerates all strings of up to --grid of them (the matchers are local, so short
# strings over this alphabet reach every branch and lookahead).
CLASS_REPS = ['a', 'Z', 's', 't', 'e', 'l', 'D', 'é', 'ж', '\u0301', '\u0903', '\u20dd', '7', '٣', '²', 'Ⅻ',
              '.', '!', '-', '_', '«', '、', '$', '+', '`', '^', '€', '😀', ' ', '\t', '\n', '\r', '\xa0',
              '\u3000', '\u2028', '\x85', '\x0b', '\x00', '\u200d', '\ue000', '\U000e0001', "'", '’',
              '中', '龥', '龦', 'あ', 'ア', 'ー', '\u3100', '가', '\U0002ebf0', '\U0001cd8a', '\U00010940',
              'ſ', '\u212a', 'S', 'L', 'ß', 'ﬆ', 'İ', 'ǅ']


def grid_cases(k):
    import itertools
    out = []
    for n in range(1, k + 1):
        out += [''.join(t) for t in itertools.product(CLASS_REPS, repeat=n)]
    return out


BASE_GENS = {
    'emoji': g_emoji, 'combining': g_combining, 'nfd_nfkd': g_nfd, 'nfc_stress': g_nfc_stress, 'digits': g_digits,
    'whitespace': g_whitespace, 'contractions': g_contraction, 'punctuation': g_punct, 'code': g_code,
    'latex': g_latex, 'long': g_long, 'stacked_marks': g_stacked_marks, 'control': g_control, 'random_cp': g_random_cp,
    'random_bytes': g_random_bytes, 'unassigned14': g_unassigned, 'new_blocks': g_unassigned_near,
    'edge': g_edge,
}
for _c in sorted(BY_CAT):
    BASE_GENS['gc_' + _c] = g_category(_c)
for _s in SCRIPTS:
    BASE_GENS['script_' + _s] = g_script(_s)
BASE_GENS['mixed'] = g_mixed

# ----------------------------------------------------------------------------- runners


def run_aha(args, tokdir, rows, extra=()):
    """Runs `aha tokenize` on rows (dicts); returns (output rows or None, stderr, returncode)."""
    with tempfile.TemporaryDirectory() as d:
        inp, out = os.path.join(d, 'in.jsonl'), os.path.join(d, 'out.jsonl')
        with open(inp, 'w', encoding='utf-8') as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + '\n')
        p = subprocess.run([args.aha, 'tokenize', '--tokenizer', tokdir, '--input', inp, '--output', out,
                            *extra], capture_output=True, text=True)
        if p.returncode != 0:
            return None, p.stderr, p.returncode
        with open(out, encoding='utf-8') as f:
            return [json.loads(line) for line in f], p.stderr, 0


class Checker:
    def __init__(self, args, name):
        self.args, self.name = args, name
        self.dir = os.path.join(args.tokdir, name)
        self.hf = Tokenizer.from_file(os.path.join(self.dir, 'tokenizer.json'))
        self.hf_nosp = Tokenizer.from_file(os.path.join(self.dir, 'tokenizer.json'))
        self.hf_nosp.encode_special_tokens = True
        self.vocab_size = self.hf.get_vocab_size(with_added_tokens=True)
        at = json.load(open(os.path.join(self.dir, 'tokenizer.json')))['added_tokens']
        self.added = [a['content'] for a in at]
        self.special_ids = [a['id'] for a in at if a['special']]
        bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
        cs = bs + [256 + k for k in range(256 - len(bs))]
        bs = bs + [b for b in range(256) if b not in bs]
        self.byte_ids = {b: self.hf.token_to_id(chr(c)) for b, c in zip(bs, cs)}

    def hf_ids(self, text, no_special):
        return (self.hf_nosp if no_special else self.hf).encode(text, add_special_tokens=False).ids

    def aha_batch(self, texts, no_special):
        rows, err, rc = run_aha(self.args, self.dir, [{'text': t} for t in texts],
                                ['--no-special'] if no_special else [])
        if rows is None:
            raise RuntimeError('aha failed (%d): %s' % (rc, err.strip()))
        return [r['ids'] for r in rows]

    def shrink(self, text, no_special):
        """Greedy deletion of chunks while aha and HF still disagree (one aha run per round)."""
        cur = text
        chunk = max(1, len(cur) // 2)
        while chunk >= 1 and len(cur) > 1:
            cands = [cur[:i] + cur[i + chunk:] for i in range(0, len(cur), chunk)]
            cands = [c for c in cands if c]
            got = self.aha_batch(cands, no_special) if cands else []
            for c, ids in zip(cands, got):
                if ids != self.hf_ids(c, no_special):
                    cur = c
                    break
            else:
                chunk //= 2
                continue
            chunk = min(chunk, max(1, len(cur) // 2))
        return cur


def describe(s):
    return ' '.join('U+%04X' % ord(c) if not (0x21 <= ord(c) < 0x7F) else c for c in s[:40])


def check_encode(args, ck, cases, no_special, report):
    texts = [t for _, t in cases]
    t0 = time.time()
    got = ck.aha_batch(texts, no_special)
    t_aha = time.time() - t0
    t0 = time.time()
    want = [ck.hf_ids(t, no_special) for t in texts]
    t_hf = time.time() - t0
    bad = collections.defaultdict(list)
    for (cat, t), g, w in zip(cases, got, want):
        if g != w:
            bad[cat].append(t)
    tag = 'encode' + (' --no-special' if no_special else '')
    for cat, ts in sorted(bad.items()):
        shown = ts[:args.show]
        mins = [ck.shrink(t, no_special) for t in shown] if not args.no_shrink else shown
        report.append((ck.name, tag, cat, len(ts), mins))
    return len(texts), sum(len(v) for v in bad.values()), t_aha, t_hf, want


def check_decode(args, ck, cases, want_ids, rng, report):
    """aha --decode on HF ids (round trip) and on random id sequences, vs HF decode."""
    rows, seqs = [], []
    for ids in want_ids:
        seqs.append(ids)
    for _ in range(len(want_ids)):
        r = rng.random()
        if r < 0.4 and want_ids:  # a cut of a real encoding: partial UTF-8 at either end
            ids = rng.choice(want_ids)
            a = rng.randint(0, len(ids))
            b = rng.randint(a, len(ids))
            seqs.append(ids[a:b])
        elif r < 0.8:
            seqs.append([rng.randrange(ck.vocab_size) for _ in range(rng.randint(0, 12))])
        elif r < 0.9:
            seqs.append([rng.choice(ck.special_ids + list(range(0, 256))) for _ in range(rng.randint(1, 8))])
        else:  # single-byte tokens: invalid UTF-8 of every kind (U+FFFD policy)
            bs = rng.choice([b'\xf0\x80', b'\xe4\xb8', b'\xc0\xaf', b'\xed\xa0\x80', b'\xf4\x90\x80\x80',
                             b'\xff', b'\x80\x80', b'\xe4\xb8\xe4\xb8\xad', b'\xf0\x9f\x98', b'\xc3',
                             bytes(rng.randrange(256) for _ in range(rng.randint(1, 10)))])
            seqs.append([ck.byte_ids[b] for b in bs])
    # Ids HF does not know (holes) are left out.
    seqs = [[i for i in s if ck.hf.id_to_token(i) is not None] for s in seqs]
    nbad = 0
    for skip in (False, True):
        rows = [{'ids': s} for s in seqs]
        out, err, rc = run_aha(args, ck.dir, rows, ['--decode'] + (['--skip-special'] if skip else []))
        if out is None:
            report.append((ck.name, 'decode', 'aha failed', 1, [err.strip()]))
            return len(seqs), 1
        bad = []
        for s, o in zip(seqs, out):
            w = ck.hf.decode(s, skip_special_tokens=skip)
            if o['text'] != w:
                bad.append((s, o['text'], w))
        if bad:
            nbad += len(bad)
            report.append((ck.name, 'decode' + (' --skip-special' if skip else ''), 'decode', len(bad),
                           ['ids %s: aha %r hf %r' % (s[:12], a[:60], w[:60]) for s, a, w in bad[:args.show]]))
    return 2 * len(seqs), nbad


def check_invalid_input(args, ck, report):
    """Invalid UTF-8 and lone surrogates in the input file must stop aha naming FILE:LINE."""
    bad_lines = [b'{"text": "ok \xff bad"}', b'{"text": "\xed\xa0\x80"}', b'{"text": "\\ud800"}',
                 b'{"text": "x\\udc00y"}', b'{"text": "\xc0\xaf"}', b'{"text": "\xf4\x90\x80\x80"}',
                 b'{"text": "\xe4\xb8"}']
    n = 0
    for k, bl in enumerate(bad_lines):
        with tempfile.TemporaryDirectory() as d:
            inp = os.path.join(d, 'in.jsonl')
            with open(inp, 'wb') as f:
                f.write(b'{"text": "fine"}\n' + bl + b'\n')
            p = subprocess.run([args.aha, 'tokenize', '--tokenizer', ck.dir, '--input', inp,
                                '--output', os.path.join(d, 'o.jsonl')], capture_output=True)
            n += 1
            err = p.stderr.decode('utf-8', 'replace')
            if p.returncode != 1 or (inp + ':2:') not in err:
                report.append((ck.name, 'invalid input', 'line %d' % k, 1,
                               ['%r: rc %d, stderr %r' % (bl, p.returncode, err.strip()[-200:])]))
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--aha', default='build/aha')
    ap.add_argument('--tokdir', default=os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data', 'tokenizers'))
    ap.add_argument('--n', type=int, default=60, help='strings per category')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--only', default='', help='deepseek_v3 or qwen3')
    ap.add_argument('--cat', default='', help='only categories containing this')
    ap.add_argument('--show', type=int, default=3, help='shrunk examples per category')
    ap.add_argument('--no-shrink', action='store_true')
    ap.add_argument('--grid', type=int, default=2, help='all strings of up to this many class '
                    'representatives (%d of them; 3 gives ~150k strings)' % len(CLASS_REPS))
    args = ap.parse_args()
    names = [n for n in ('deepseek_v3', 'qwen3') if not args.only or n == args.only]
    report = []
    total = 0
    for name in names:
        ck = Checker(args, name)
        rng = random.Random('%d-%s' % (args.seed, name))
        gens = dict(BASE_GENS)
        both = ['<|im_start|>', '<|im_end|>', '<think>', '</think>', '<｜begin▁of▁sentence｜>',
                '<｜end▁of▁sentence｜>', '<｜User｜>', '<｜Assistant｜>', '<|endoftext|>']
        gens['special_tokens'] = g_special([a for a in ck.added if 'place▁holder' not in a] + ck.added[:20] + both)
        cases = [(c, g(rng)) for c, g in gens.items() if args.cat in c for _ in range(args.n)]
        if args.grid and args.cat in 'grid':
            cases += [('grid', t) for t in grid_cases(args.grid)]
            cases += [('grid_random', ''.join(rng.choice(CLASS_REPS) for _ in range(rng.randint(4, 14))))
                      for _ in range(args.n * 20)]
        n_enc, bad_enc, t_aha, t_hf, want = check_encode(args, ck, cases, False, report)
        sp_cases = [(c, t) for c, t in cases if c in ('special_tokens', 'mixed', 'edge')]
        n_sp, bad_sp, _, _, _ = check_encode(args, ck, sp_cases, True, report)
        n_dec, bad_dec = check_decode(args, ck, cases, want, rng, report)
        n_inv = check_invalid_input(args, ck, report)
        nbytes = sum(len(t.encode()) for _, t in cases)
        print('%s: encode %d cases (%d differ), --no-special %d (%d differ), decode %d (%d differ), '
              'invalid-input files %d; %.2f MB: aha %.2f s (process incl. load), HF %.2f s'
              % (name, n_enc, bad_enc, n_sp, bad_sp, n_dec, bad_dec, n_inv, nbytes / 1e6, t_aha, t_hf))
        total += n_enc + n_sp + n_dec + n_inv
    for name, tag, cat, count, examples in report:
        print('\n[%s] %s: category %s: %d mismatches' % (name, tag, cat, count))
        for e in examples:
            print('   %r   (%s)' % (e, describe(e) if isinstance(e, str) else ''))
    print('\n%d comparisons, %d mismatch groups' % (total, len(report)))
    sys.exit(1 if report else 0)


if __name__ == '__main__':
    main()
