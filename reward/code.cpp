// Code checker: runs a completion against tests in the sandbox. The verdict never comes from the
// candidate's process (reward/README.md, "Threat model"):
// - Python: two sandboxes. The candidate program loads in one (server.py) and answers calls; the
//   tests run in the other (harness.py), which sees the candidate only as plain values (exact
//   builtin types rebuilt from a tagged JSON form) and opaque handles, runs the asserts (never
//   with -O) and alone writes the verdict to its fd 3. The candidate never sees the tests or the
//   expected values. HumanEval rows: the prompt's helpers and check() run in the harness;
//   MBPP rows and generic "tests": test_setup_code, then each assert on its own.
// - C++ with stdin/stdout tests: the program's output is compared here.
// - C++ with a test main: the test unit (on stdin, in no file) includes the candidate; every
//   macro the candidate defines or changes is undone before the test; the test's asserts are ours
//   (internal linkage, no NDEBUG); a pass needs the test main to return 0 and then report a
//   per-run nonce it reads from stdin at the end (early exits, static initialisers and
//   #define main earn nothing).
// Score = fraction of tests passed; component all_pass = 1 only when every test passed (a
// timeout never gets credit for what it missed).
#include <re2/re2.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

#include "reward/reward.h"
#include "reward/sandbox.h"

namespace aha {

namespace {

std::string nonce() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(gen()));
  return buf;
}

const char* kHarnessPy =
    R"PY(# Trusted side of a Python code check: runs the task's tests, reaches the candidate program (in
# another sandbox) only through pipes of plain values, and alone writes the verdict (fd 3).
import builtins, json, os, sys
_out = os.fdopen(3, 'w')
_rx = os.fdopen(4, 'rb')
_tx = os.fdopen(5, 'wb')
if hasattr(sys, 'set_int_max_str_digits'):
    sys.set_int_max_str_digits(0)
_MAX = 1 << 24
with open('tests.json', encoding='utf-8') as _f:
    _cfg = json.load(_f)
TAG, MODE = _cfg['tag'], _cfg['mode']
ENTRY, PROMPT, TEST = _cfg.get('entry', ''), _cfg.get('prompt', ''), _cfg.get('test', '')
SETUP, TESTS = _cfg.get('setup', ''), _cfg.get('tests', [])


class CandidateError(Exception):
    """An exception raised inside the candidate program (its type name and message)."""


class ProtocolError(Exception):
    """The candidate side sent something that is not a plain value."""


class Remote(object):
    """A candidate object that is not a plain value; only a handle. Never equal to anything but
    itself: no candidate code decides a comparison."""
    __slots__ = ('_aha_id',)

    def __init__(self, i):
        object.__setattr__(self, '_aha_id', i)

    def __getattr__(self, name):
        if name.startswith('__'):
            raise AttributeError(name)
        return _ask('getattr', self, name)

    def __setattr__(self, name, value):
        _ask('setattr', self, name, value)

    def __call__(self, *a, **k):
        return _ask('call', self, list(a), k)

    def __iter__(self):
        return iter(_typed(_ask('list', self), list))

    def __len__(self):
        return _typed(_ask('len', self), int)

    def __bool__(self):
        return _typed(_ask('bool', self), bool)

    def __getitem__(self, key):
        return _ask('getitem', self, key)

    def __repr__(self):
        return _typed(_ask('repr', self), str)

    def __str__(self):
        return _typed(_ask('str', self), str)

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    __hash__ = object.__hash__


def _builtin_kinds():
    # Exceptions of the candidate arrive as trusted classes that are also the builtin kind, so
    # hasattr() and a test's own except clauses behave as in one process. Never a kind that
    # steers the test's control flow (StopIteration from a call inside map() or a for loop would
    # end it early, skipping asserts): those arrive as RuntimeError, as PEP 479 does.
    kinds = {}
    for name in ('TypeError', 'ValueError', 'KeyError', 'IndexError', 'AttributeError',
                 'ZeroDivisionError', 'RecursionError', 'NotImplementedError',
                 'ArithmeticError', 'OverflowError', 'LookupError', 'RuntimeError',
                 'UnicodeError', 'AssertionError', 'NameError'):
        try:
            kinds[name] = type('Candidate' + name, (CandidateError, getattr(builtins, name)), {})
        except TypeError:
            pass
    for name in ('StopIteration', 'StopAsyncIteration', 'GeneratorExit'):
        kinds[name] = kinds['RuntimeError']
    return kinds


_KINDS = _builtin_kinds()
# Builtin types may cross as themselves (tests pass int, str, ... as arguments).
_TYPES = {t.__name__: t for t in (int, float, complex, str, bytes, bytearray, bool, list, tuple,
                                  dict, set, frozenset, range, type(None), object, type)}


def _typed(v, t):
    if type(v) is not t:
        raise ProtocolError('expected ' + t.__name__)
    return v


def _enc(v, depth=0):
    if depth > 100:
        raise ValueError('value nested too deeply')
    d = depth + 1
    if v is None or v is True or v is False:
        return v
    if isinstance(v, Remote):
        return ['r', object.__getattribute__(v, '_aha_id')]
    if isinstance(v, int):
        return ['i', hex(int(v))]
    if isinstance(v, float):
        return ['f', float(v).hex()]
    if isinstance(v, complex):
        return ['c', v.real.hex(), v.imag.hex()]
    if isinstance(v, str):
        return ['s', str(v)]
    if isinstance(v, (bytes, bytearray)):
        return ['b' if isinstance(v, bytes) else 'B', bytes(v).hex()]
    if isinstance(v, list):
        return ['l', [_enc(x, d) for x in v]]
    if isinstance(v, tuple):
        return ['t', [_enc(x, d) for x in v]]
    if isinstance(v, dict):
        return ['d', [[_enc(k, d), _enc(x, d)] for k, x in v.items()]]
    if isinstance(v, frozenset):
        return ['F', [_enc(x, d) for x in v]]
    if isinstance(v, set):
        return ['S', [_enc(x, d) for x in v]]
    if isinstance(v, range):
        return ['R', [hex(v.start), hex(v.stop), hex(v.step)]]
    if isinstance(v, type) and _TYPES.get(v.__name__) is v:
        return ['T', v.__name__]
    raise TypeError('cannot pass a %s to the candidate' % type(v).__name__)


def _str(x):
    if type(x) is not str:
        raise ProtocolError('bad value')
    return x


def _dec(x, depth=0):
    # Builds exact builtin types only, from JSON the candidate side may have forged.
    if depth > 200:
        raise ProtocolError('value nested too deeply')
    if x is None or x is True or x is False:
        return x
    if type(x) is not list or len(x) < 2 or type(x[0]) is not str:
        raise ProtocolError('bad value')
    tag, d = x[0], depth + 1
    if tag == 'i':
        return int(_str(x[1]), 16)
    if tag == 'f':
        return float.fromhex(_str(x[1]))
    if tag == 'c' and len(x) == 3:
        return complex(float.fromhex(_str(x[1])), float.fromhex(_str(x[2])))
    if tag == 's':
        return _str(x[1])
    if tag in ('b', 'B'):
        b = bytes.fromhex(_str(x[1]))
        return b if tag == 'b' else bytearray(b)
    if tag == 'T':
        t = _TYPES.get(_str(x[1]))
        if t is None:
            raise ProtocolError('bad type')
        return t
    if tag == 'r':
        if type(x[1]) is not int:
            raise ProtocolError('bad handle')
        return Remote(x[1])
    if type(x[1]) is not list:
        raise ProtocolError('bad value')
    if tag == 'l':
        return [_dec(e, d) for e in x[1]]
    if tag == 't':
        return tuple(_dec(e, d) for e in x[1])
    if tag == 'S':
        return set(_dec(e, d) for e in x[1])
    if tag == 'F':
        return frozenset(_dec(e, d) for e in x[1])
    if tag == 'R' and len(x[1]) == 3:
        return range(*[int(_str(e), 16) for e in x[1]])
    if tag == 'd':
        out = {}
        for kv in x[1]:
            if type(kv) is not list or len(kv) != 2:
                raise ProtocolError('bad value')
            out[_dec(kv[0], d)] = _dec(kv[1], d)
        return out
    raise ProtocolError('bad value')


def _read():
    line = _rx.readline(_MAX + 1)
    if not line:
        raise CandidateError('the candidate program ended')
    if len(line) > _MAX:
        raise ProtocolError('reply too long')
    return json.loads(line)


def _ask(op, target, *rest):
    msg = [op, _enc(target)] + [_enc(r) for r in rest[:1]]
    if op == 'call':
        msg = [op, _enc(target), _enc(rest[0]), [[_str(k), _enc(v)] for k, v in rest[1].items()]]
    elif op == 'setattr':
        msg = [op, _enc(target), _str(rest[0]), _enc(rest[1])]
    elif op == 'getattr':
        msg = [op, _enc(target), _str(rest[0])]
    _tx.write(json.dumps(msg).encode() + b'\n')
    _tx.flush()
    r = _read()
    if type(r) is not list or len(r) < 2:
        raise ProtocolError('bad reply')
    if r[0] == 'ok':
        return _dec(r[1])
    if r[0] == 'err' and len(r) == 3:
        raise _KINDS.get(_str(r[1]), CandidateError)('%s: %s' % (_str(r[1]), _str(r[2])))
    raise ProtocolError('bad reply')


def _report(line):
    _out.write(TAG + ' ' + line + '\n')
    _out.flush()


def _main():
    if sys.flags.optimize:
        print('harness: asserts are compiled out (-O); refusing', file=sys.stderr)
        return
    hello = _read()
    if type(hello) is not list or len(hello) != 2 or hello[0] not in ('hello', 'fail'):
        raise ProtocolError('bad hello')
    if hello[0] == 'fail':
        print('candidate program failed: %s' % _str(hello[1])[:300], file=sys.stderr)
        return
    g = {'__name__': '__main__', '__builtins__': builtins}
    import ast, importlib, importlib.util, re
    # Only names the trusted test text mentions come from the candidate (no dunder such as
    # __builtins__, no name the tests do not use, no module imported for nothing).
    text = TEST + '\n' + SETUP + '\n' + '\n'.join(TESTS)  # the prompt defines its own names
    used = set(re.findall(r'[A-Za-z_][A-Za-z0-9_]*', text)) | {ENTRY}
    called = set(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)\s*\(', SETUP + '\n'.join(TESTS)))
    names = []
    for item in hello[1]:
        if type(item) is not list or len(item) != 3:
            raise ProtocolError('bad name list')
        names.append((_str(item[0]), _str(item[1]), item[2]))
    # A candidate name that is also a builtin's comes in only when it is the function under test:
    # the tests use no other name of the candidate and call no other builtin (MBPP 126 defines
    # and tests sum()); the tests alone decide, so a candidate cannot pick abs() or all() instead.
    own_used = [n for k, n, v in names
                if n in used and n.isidentifier() and not hasattr(builtins, n)]
    called_builtins = set(n for t in TESTS for n in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)\s*\(', t)
                          if hasattr(builtins, n))
    under_test = next(iter(called_builtins)) if len(called_builtins) == 1 and not own_used else None

    def stdlib_module(name):
        # The harness runs with -I -S: whatever it finds is the standard library's.
        try:
            return importlib.util.find_spec(name) is not None
        except Exception:
            return False

    for kind, name, val in names:
        if not name.isidentifier() or name.startswith(('__', '_aha')):
            continue
        if name not in used:
            continue
        if hasattr(builtins, name) and (MODE == 'humaneval' or name != under_test):
            continue  # a builtin the tests use is never the candidate's
        if name != ENTRY and name not in called and stdlib_module(name):
            # math.isclose(...), sys.getsizeof(...) in the tests: the real module, never an
            # object of the candidate's that answers to that name.
            try:
                g[name] = importlib.import_module(name)
            except Exception:
                pass
        elif kind == 'module':
            try:
                g[name] = importlib.import_module(val if type(val) is str else '')
            except Exception:
                pass
        elif kind == 'value':
            g[name] = _dec(val)
    if MODE == 'humaneval':
        cand = g.get(ENTRY)
        # The helpers the tests call are the prompt's, never the candidate's, also where a statement
        # of the prompt fails here (an import the candidate's interpreter has and the harness's
        # has not): every name the prompt binds is dropped first, and when the prompt fails as a
        # whole, each statement runs on its own.
        body = None
        for text in (PROMPT, PROMPT + '\n    pass\n'):  # a prompt may end at a bare signature
            try:
                body = ast.parse(text).body
                break
            except Exception:
                pass
        for node in ast.walk(ast.Module(body or [], [])):
            bound = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bound = [node.name]
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound = [node.id]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                bound = [(a.asname or a.name).split('.')[0] for a in node.names]
            for name in bound:
                if name != ENTRY:
                    g.pop(name, None)
        try:
            exec(compile(PROMPT, '<prompt>', 'exec'), g)  # trusted helpers the tests call
        except BaseException:
            for node in body or []:
                try:
                    exec(compile(ast.Module([node], []), '<prompt>', 'exec'), g)
                except BaseException:
                    pass
        if not isinstance(cand, Remote):
            print('the candidate defines no function %s' % ENTRY, file=sys.stderr)
            _report('done')
            return
        g[ENTRY] = cand
        tests = [TEST + '\ncheck(' + ENTRY + ')\n']
    else:
        if SETUP:
            exec(compile(SETUP, '<setup>', 'exec'), g)
        tests = TESTS
    for i, t in enumerate(tests):
        try:
            exec(compile(t, '<test %d>' % i, 'exec'), g)
            _report('%d pass' % i)
        except BaseException as e:
            _report('%d fail %s' % (i, type(e).__name__))
            print('test %d failed: %s: %s' % (i, type(e).__name__, str(e)[:200]), file=sys.stderr)
    _report('done')


_main()
)PY";

const char* kServerPy =
    R"PY(# Candidate side of a Python code check: loads the program, then answers the harness's requests
# (calls, attributes) with plain values. Nothing here is trusted: the harness decides.
import json, os, sys, types
_rx = os.fdopen(os.dup(0), 'rb')
_tx = os.fdopen(os.dup(3), 'wb')
_null = os.open('/dev/null', os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
os.close(3)
if hasattr(sys, 'set_int_max_str_digits'):
    sys.set_int_max_str_digits(0)
_objs = []
_TYPES = {t.__name__: t for t in (int, float, complex, str, bytes, bytearray, bool, list, tuple,
                                  dict, set, frozenset, range, type(None), object, type)}


def _handle(v):
    _objs.append(v)
    return ['r', len(_objs) - 1]


def _enc(v, depth=0):
    d = depth + 1
    if depth > 100:
        raise ValueError('value nested too deeply')
    if v is None or v is True or v is False:
        return v
    if isinstance(v, bool):
        return bool.__bool__(v)
    if isinstance(v, int):
        return ['i', hex(int.__index__(v))]
    if isinstance(v, float):
        return ['f', float.hex(v)]
    if isinstance(v, complex):
        return ['c', float.hex(complex.__getattribute__(v, 'real')),
                float.hex(complex.__getattribute__(v, 'imag'))]
    if isinstance(v, str):
        return ['s', str.__str__(v)]
    if isinstance(v, bytes):
        return ['b', bytes.hex(v)]
    if isinstance(v, bytearray):
        return ['B', bytearray.hex(v)]
    if isinstance(v, list):
        return ['l', [_enc(x, d) for x in list.__iter__(v)]]
    if isinstance(v, tuple):
        return ['t', [_enc(x, d) for x in tuple.__iter__(v)]]
    if isinstance(v, dict):
        return ['d', [[_enc(k, d), _enc(x, d)] for k, x in dict.items(v)]]
    if isinstance(v, frozenset):
        return ['F', [_enc(x, d) for x in frozenset.__iter__(v)]]
    if isinstance(v, set):
        return ['S', [_enc(x, d) for x in set.__iter__(v)]]
    if type(v) is range:
        return ['R', [hex(v.start), hex(v.stop), hex(v.step)]]
    if type(v) is type and _TYPES.get(v.__name__) is v:
        return ['T', v.__name__]
    return _handle(v)


def _dec(x):
    if x is None or x is True or x is False:
        return x
    tag = x[0]
    if tag == 'i':
        return int(x[1], 16)
    if tag == 'f':
        return float.fromhex(x[1])
    if tag == 'c':
        return complex(float.fromhex(x[1]), float.fromhex(x[2]))
    if tag == 's':
        return x[1]
    if tag == 'b':
        return bytes.fromhex(x[1])
    if tag == 'B':
        return bytearray.fromhex(x[1])
    if tag == 'T':
        return _TYPES[x[1]]
    if tag == 'r':
        return _objs[x[1]]
    if tag == 'l':
        return [_dec(e) for e in x[1]]
    if tag == 't':
        return tuple(_dec(e) for e in x[1])
    if tag == 'S':
        return set(_dec(e) for e in x[1])
    if tag == 'F':
        return frozenset(_dec(e) for e in x[1])
    if tag == 'R':
        return range(*[int(e, 16) for e in x[1]])
    if tag == 'd':
        return {_dec(k): _dec(v) for k, v in x[1]}
    raise ValueError('bad value')


def _send(msg):
    _tx.write(json.dumps(msg).encode() + b'\n')
    _tx.flush()


def _names(g):
    out = []
    for k, v in list(g.items()):
        if k.startswith('__'):
            continue
        if isinstance(v, types.ModuleType):
            out.append(['module', k, getattr(v, '__name__', k)])
        elif callable(v):
            out.append(['value', k, _handle(v)])
        else:
            try:
                out.append(['value', k, _enc(v)])
            except Exception:
                out.append(['value', k, _handle(v)])
    return out


def _serve():
    while True:
        line = _rx.readline()
        if not line:
            return
        m = json.loads(line)
        op = m[0]
        try:
            t = _dec(m[1])
            if op == 'call':
                r = t(*_dec(m[2]), **{k: _dec(v) for k, v in m[3]})
            elif op == 'getattr':
                r = getattr(t, m[2])
            elif op == 'setattr':
                setattr(t, m[2], _dec(m[3]))
                r = None
            elif op == 'list':
                r = list(t)
            elif op == 'len':
                r = len(t)
            elif op == 'bool':
                r = bool(t)
            elif op == 'getitem':
                r = t[_dec(m[2])]
            elif op == 'repr':
                r = repr(t)
            elif op == 'str':
                r = str(t)
            else:
                raise ValueError('unknown request')
            reply = ['ok', _enc(r)]
        except BaseException as e:
            reply = ['err', type(e).__name__, str(e)[:200]]
        _send(reply)


class _NoCode(Exception):
    """The answer part is prose only."""


def _compiles(text):
    try:
        compile(text, 'solution.py', 'exec')
        return True
    except (SyntaxError, ValueError):
        return False


def _error(text):
    # The SyntaxError compiling text raises, None when it compiles.
    try:
        compile(text, 'solution.py', 'exec')
        return None
    except SyntaxError as e:
        return e


def _open(e):
    # Whether the text ended inside a string or a bracket (messages of Python 3.8 to 3.13).
    return any(k in str(e.msg) for k in ('unterminated triple-quoted', 'was never closed',
                                         'EOF while scanning', 'unexpected EOF'))


def _prose(line):
    import io, keyword, re, tokenize
    # Words, not Python: the line compiles neither alone nor as a block's head, and two words (or
    # a word and a number) stand side by side, which only keywords do in Python; or a label
    # ("Explanation:"), Markdown, a REPL prompt, or a contraction ("Here's") that breaks the
    # tokenizer.
    s = line.strip()
    if not s or s[0] == '#' or len(s) > 2000 or _compiles(s) or _compiles(s + '\n pass'):
        return False
    if s.startswith(('**', '>>>', '|')):  # Markdown bold or a table, a REPL line
        return True
    toks, broken = [], False
    try:
        for t in tokenize.generate_tokens(io.StringIO(s).readline):
            if t.type == tokenize.ERRORTOKEN and t.string.strip():
                broken = True
            elif t.type in (tokenize.NAME, tokenize.NUMBER, tokenize.STRING, tokenize.OP):
                toks.append(t)
    except (tokenize.TokenError, SyntaxError):
        broken = True

    def word(t):
        return t.type == tokenize.NAME and not keyword.iskeyword(t.string)

    for a, b in zip(toks, toks[1:]):
        if word(a) and a.string not in ('print', 'exec', 'match', 'case', 'type') and (
                word(b) or b.type == tokenize.NUMBER):
            return True
        if a.type == tokenize.NUMBER and word(b) and len(b.string) > 1:
            return True
    if len(toks) == 2 and word(toks[0]) and toks[1].string == ':':
        return True
    # "This is it.": words (keywords among them), then a period, which never follows a name.
    if len(toks) >= 2 and word(toks[0]) and toks[-1].string == '.' and all(
            t.type == tokenize.NAME or t.string == ',' for t in toks[:-1]):
        return True
    if broken:
        for m in re.finditer(r"([A-Za-z]+)'[a-z]", s):
            if m.group(1).lower() not in ('r', 'u', 'b', 'f', 'br', 'rb', 'fr', 'rf'):
                return True
    return False


def _drop_prose(src, first):
    import re
    # An answer without fences may wrap its code in prose ("Here is the function:", "This works
    # by ..."). Lines of prose at the top level, from line `first` on, become blank lines (a later
    # error keeps its line number), each with the indented lines under it when those then stand
    # alone (a list under "Example:"). Only text that stops the program from compiling goes.
    lines = src.split('\n')
    blanked = set()
    base = 0  # lines[:base] compile on their own and end at the top level: compiled once
    for _ in range(200):
        e = _error('\n' * base + '\n'.join(lines[base:]))
        if e is None:
            break
        at = (e.lineno or 0) - 1
        if not first <= at < len(lines):
            break
        t = at  # the top-level line that the statement holding the error starts on
        while t > first and t not in blanked and (not lines[t].strip() or lines[t][0] in ' \t'):
            t -= 1
        if t in blanked:  # indented lines under a line of prose: they stand alone now
            end = t + 1
            while end < len(lines) and (not lines[end].strip() or lines[end][0] in ' \t'):
                lines[end] = ''
                end += 1
            continue
        if not lines[t].strip() or lines[t][0] in ' \t' or not _prose(lines[t]):
            break
        before = _error('\n' * base + '\n'.join(lines[base:t]))
        if before is not None and _open(before):  # the line is inside a string or a bracket
            break
        lines[t] = ''
        blanked.add(t)
        nxt = next((k for k in range(t + 1, len(lines)) if lines[k].strip()), len(lines))
        if before is None and (nxt == len(lines) or (lines[nxt][0] not in ' \t' and not re.match(
                r'(?:else|elif|except|finally)\b', lines[nxt]))):
            base = t + 1  # a new statement follows: what comes after compiles on its own
    if blanked and not any(l.strip() and not l.lstrip().startswith('#') for l in lines[first:]):
        raise _NoCode('the answer has no code, only prose')
    return '\n'.join(lines)


# The candidate loads as a module named solution, as an import would: its
# "if __name__ == '__main__':" block (a demo reading stdin, say) stays for running it as a script.
_mod = types.ModuleType('solution')
_mod.__file__ = 'solution.py'
sys.modules['solution'] = _mod
_g = _mod.__dict__
try:
    with open('candidate.py', encoding='utf-8', errors='replace') as _f:
        _src = _f.read()
    if len(sys.argv) > 1:  # an answer without fences, the candidate's own lines from argv[1] on
        _src = _drop_prose(_src, int(sys.argv[1]))
    exec(compile(_src, 'solution.py', 'exec'), _g)
    _hello = ['hello', _names(_g)]
except _NoCode as _e:
    _hello = ['fail', str(_e)]
except BaseException as _e:
    _hello = ['fail', '%s: %s' % (type(_e).__name__, str(_e)[:200])]
_send(_hello)
_serve()
)PY";

// Where a run of at least n `ch` starts at or after from, npos if none; with line_start only a run
// that opens its line (after spaces or tabs). *len is the run's length.
size_t fence_run(const std::string& text, size_t from, char ch, size_t n, bool line_start,
                 size_t* len) {
  for (size_t at = text.find(std::string(n, ch), from); at != std::string::npos;
       at = text.find(std::string(n, ch), at + 1)) {
    if (at > 0 && text[at - 1] == ch) continue;  // inside a longer run seen already
    size_t bol = text.rfind('\n', at);
    bol = bol == std::string::npos ? 0 : bol + 1;
    if (line_start && text.find_first_not_of(" \t", bol) != at) continue;
    *len = text.find_first_not_of(ch, at);
    *len = (*len == std::string::npos ? text.size() : *len) - at;
    return at;
  }
  return std::string::npos;
}

// The fenced blocks of text in order: ``` (anywhere, as models close a fence at a line's end) or
// ~~~ (opening its line) up to the next run at least as long of the same character; an unclosed
// last fence (a completion cut at max_tokens) runs to the end. A fence indented inside a Markdown
// list item indents its lines too: they lose up to the fence's indentation.
std::vector<std::string> fenced_blocks(const std::string& text) {
  std::vector<std::string> blocks;
  for (size_t pos = 0;;) {
    size_t tick_len = 0, tilde_len = 0;
    size_t tick = fence_run(text, pos, '`', 3, false, &tick_len);
    size_t tilde = fence_run(text, pos, '~', 3, true, &tilde_len);
    size_t open = std::min(tick, tilde);
    if (open == std::string::npos) break;
    const char ch = open == tick ? '`' : '~';
    const size_t n = open == tick ? tick_len : tilde_len;
    size_t line_end = text.find('\n', open);
    if (line_end == std::string::npos) break;
    size_t bol = text.rfind('\n', open);
    bol = bol == std::string::npos ? 0 : bol + 1;
    const size_t indent = text.find_first_not_of(" ", bol) == open ? open - bol : 0;
    size_t close_len = 0;
    size_t close = fence_run(text, line_end, ch, n, ch == '~', &close_len);
    std::string body = text.substr(
        line_end + 1, close == std::string::npos ? std::string::npos : close - line_end - 1);
    if (indent > 0) {
      std::string out;
      std::istringstream in(body);
      for (std::string line; std::getline(in, line);) {
        size_t lead = std::min(indent, line.find_first_not_of(' '));
        out += line.substr(std::min(lead, line.size())) + "\n";
      }
      body = out;
    }
    blocks.push_back(body);
    if (close == std::string::npos) break;
    pos = close + close_len;
  }
  return blocks;
}

// Without fences, code in HTML tags (<pre><code class="language-python">…</code></pre>, <code>…</code>
// over several lines), entities decoded as a browser shows them.
std::vector<std::string> html_blocks(const std::string& text) {
  std::vector<std::string> blocks;
  static const RE2 block_re(
      R"((?is)<(?:pre|code)\b[^>]*>(?:\s*<code\b[^>]*>)?(.*?)</(?:code|pre)>)");
  re2::StringPiece in(text);
  std::string body;
  while (RE2::FindAndConsume(&in, block_re, &body)) {
    if (body.find('\n') == std::string::npos) continue;  // inline code in a sentence
    for (auto [from, to] : {std::pair<const char*, const char*>{"&lt;", "<"},
                            {"&gt;", ">"},
                            {"&quot;", "\""},
                            {"&#39;", "'"},
                            {"&amp;", "&"}})
      RE2::GlobalReplace(&body, RE2::QuoteMeta(from), to);
    blocks.push_back(body);
  }
  return blocks;
}

// Whether code defines `name` (a Python def, class or assignment; a C++ function body).
bool defines(const std::string& code, const std::string& name, bool cpp) {
  const std::string n = RE2::QuoteMeta(name);
  if (cpp) return RE2::PartialMatch(code, RE2("\\b" + n + R"(\s*\([^;{}]*\)\s*(?:const\s*)?\{)"));
  return RE2::PartialMatch(code, RE2(R"((?m)^[ \t]*(?:(?:async[ \t]+)?def[ \t]+|class[ \t]+))" + n +
                                     R"(\b|(?m)^)" + n + R"([ \t]*=)"));
}

// The names a Python block binds: defs, classes, imports and assignments at any indentation.
std::set<std::string> python_bound(const std::string& code) {
  std::set<std::string> out;
  static const RE2 def_re(R"((?m)^[ \t]*(?:(?:async[ \t]+)?def|class)[ \t]+(\w+))");
  static const RE2 assign_re(R"((?m)^[ \t]*(\w+)[ \t]*(?::[^=\n]*)?=[^=])");
  static const RE2 import_re(R"((?m)^[ \t]*(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+([^\n#;]+))");
  static const RE2 alias_re(R"(([\w.]+)(?:[ \t]+as[ \t]+(\w+))?)");
  std::string name;
  for (const RE2* re : {&def_re, &assign_re}) {
    re2::StringPiece in(code);
    while (RE2::FindAndConsume(&in, *re, &name)) out.insert(name);
  }
  re2::StringPiece in(code);
  std::string list;
  while (RE2::FindAndConsume(&in, import_re, &list)) {
    re2::StringPiece items(list);
    std::string dotted, alias;
    while (RE2::FindAndConsume(&items, alias_re, &dotted, &alias))
      out.insert(!alias.empty() ? alias : dotted.substr(0, dotted.find('.')));
  }
  return out;
}

// The identifiers code mentions.
std::set<std::string> identifiers(const std::string& code) {
  std::set<std::string> out;
  static const RE2 id_re(R"(([A-Za-z_]\w*))");
  re2::StringPiece in(code);
  std::string id;
  while (RE2::FindAndConsume(&in, id_re, &id)) out.insert(id);
  return out;
}

// The chosen block with the earlier answer blocks it builds on ("First the imports: ```…```, then
// the function: ```…```"). Python: an earlier block that binds a name the code so far uses and
// does not bind (later definitions still win). C++: an earlier block of #include / using lines
// alone (never a function, which would collide with the chosen block's).
std::string with_prerequisites(const std::vector<std::string>& blocks, size_t k, bool cpp) {
  std::string code = blocks[k];
  static const RE2 cpp_prelude(
      R"((?:\s*(?:#[ \t]*include[^\n]*|using[ \t]+namespace[ \t]+\w+[ \t]*;|//[^\n]*))*\s*)");
  std::set<std::string> bound, used;
  if (!cpp) bound = python_bound(code), used = identifiers(code);
  for (size_t j = k; j-- > 0;) {
    if (cpp) {
      if (blocks[j].find('#') != std::string::npos && RE2::FullMatch(blocks[j], cpp_prelude))
        code = blocks[j] + "\n" + code;
      continue;
    }
    std::set<std::string> binds = python_bound(blocks[j]);
    bool needed = false;
    for (const std::string& b : binds) needed |= used.count(b) > 0 && bound.count(b) == 0;
    if (!needed) continue;
    code = blocks[j] + "\n" + code;
    bound.insert(binds.begin(), binds.end());
    std::set<std::string> more = identifiers(blocks[j]);
    used.insert(more.begin(), more.end());
  }
  return code;
}

// What the checker runs of a completion.
struct Answer {
  std::string code;
  bool unfenced = false;  // the answer part as it is: no fenced or HTML block
  bool in_think = false;  // the completion ends inside <think>: there is no answer
};

// The code to run: of the fenced blocks in the answer part (without fences, HTML code blocks),
// the last one that defines a name the tests call (a corrected attempt follows the wrong one;
// usage examples follow the solution), else the last one that defines anything, else the last
// one, with the earlier blocks it builds on; without blocks the answer part.
Answer extract_code(const std::string& c, bool enabled, const std::vector<std::string>& names,
                    bool cpp) {
  if (!enabled) return {c};
  const std::optional<std::string> region = answer_part(c);
  if (!region) return {"", false, true};
  std::vector<std::string> blocks = fenced_blocks(*region);
  if (blocks.empty()) blocks = html_blocks(*region);
  if (blocks.empty()) return {*region, true};
  for (size_t k = blocks.size(); k-- > 0;)
    for (const std::string& name : names)
      if (defines(blocks[k], name, cpp)) return {with_prerequisites(blocks, k, cpp)};
  static const RE2 any_def(R"((?m)^[ \t]*(?:(?:async[ \t]+)?def|class)[ \t]+\w)");
  static const RE2 any_body(R"(\)\s*(?:const\s*)?\{)");
  for (size_t k = blocks.size(); k-- > 0;)
    if (RE2::PartialMatch(blocks[k], cpp ? any_body : any_def))
      return {with_prerequisites(blocks, k, cpp)};
  return {blocks.back()};
}

// The names the reference's tests call: HumanEval's entry point, the functions the asserts call,
// main for C++ programs fed on stdin.
std::vector<std::string> called_names(const nlohmann::json& ref, bool cpp) {
  std::vector<std::string> names;
  if (ref.contains("entry_point") && ref.at("entry_point").is_string())
    names.push_back(ref.at("entry_point").get<std::string>());
  std::string tests;
  for (const char* field : {"test_list", "tests", "test"}) {
    if (!ref.contains(field)) continue;
    const nlohmann::json& t = ref.at(field);
    if (t.is_string()) tests += t.get<std::string>() + "\n";
    if (t.is_array())
      for (const auto& x : t)
        if (x.is_string()) tests += x.get<std::string>() + "\n";
  }
  static const RE2 call(R"(([A-Za-z_]\w*)\s*\()");
  static const std::set<std::string> not_candidate = {
      "assert", "print", "len", "abs",    "round",  "set",        "sorted",     "list",
      "tuple",  "str",   "int", "float",  "range",  "isclose",    "all",        "any",
      "sum",    "min",   "max", "dict",   "bool",   "type",       "isinstance", "main",
      "if",     "while", "for", "return", "sizeof", "static_cast"};
  re2::StringPiece in(tests);
  std::string name;
  while (names.size() < 16 && RE2::FindAndConsume(&in, call, &name))
    if (!not_candidate.count(name) && std::find(names.begin(), names.end(), name) == names.end())
      names.push_back(name);
  if (cpp && ref.contains("tests") && ref.at("tests").is_array()) names.push_back("main");
  return names;
}

std::string last_line(const std::string& out) {
  std::istringstream in(out);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  if (last.size() > 160) last = last.substr(0, 160) + "...";
  return last;
}

std::string field_string(const nlohmann::json& ref, const std::string& name, bool required) {
  if (!ref.contains(name) || ref.at(name).is_null()) {
    if (required) throw std::invalid_argument("code: reference has no field '" + name + "'");
    return "";
  }
  if (!ref.at(name).is_string())
    throw std::invalid_argument("code: reference field '" + name + "' must be a string");
  return ref.at(name).get<std::string>();
}

// Why a run did not finish cleanly, in words.
std::string failure_note(const SandboxResult& r, const SandboxLimits& lim) {
  if (!r.error.empty()) return r.error;
  char buf[96];
  if (r.timed_out) {
    std::snprintf(buf, sizeof buf, "timeout (%.1f s)", lim.wall_s);
    return buf;
  }
  if (r.output_limit) return "output limit exceeded";
  if (r.term_signal == SIGXCPU || r.term_signal == SIGKILL) {
    if (r.term_signal == SIGXCPU) return "cpu time limit";
    return "killed (signal 9)";
  }
  if (r.term_signal) return "killed by signal " + std::to_string(r.term_signal);
  std::string l = last_line(r.output);
  if (!l.empty()) return l;
  return "exit code " + std::to_string(r.exit_code);
}

// The system interpreter (not a user's virtualenv shim): it must exist under /usr, which is all the
// sandbox shows.
std::string python_path(const CheckerOptions& o) {
  std::string p = o.get_string("python", "/usr/bin/python3");
  if (access(p.c_str(), X_OK) != 0)
    throw std::runtime_error("code: Python interpreter " + p + " not found");
  return p;
}

SandboxLimits limits_from(const CheckerOptions& o) {
  SandboxLimits l;
  l.wall_s = o.get_double("timeout_s", 5.0);
  l.cpu_s = static_cast<int>(o.get_int("cpu_s", static_cast<int64_t>(l.wall_s + 0.999)));
  l.memory_bytes = static_cast<uint64_t>(o.get_int("memory_mb", 1024)) << 20;
  l.file_bytes = static_cast<uint64_t>(o.get_int("file_mb", 16)) << 20;
  l.tmp_bytes = static_cast<uint64_t>(o.get_int("tmp_mb", 64)) << 20;
  l.nproc = static_cast<int>(o.get_int("nproc", 64));
  l.nofile = static_cast<int>(o.get_int("nofile", 64));
  l.output_bytes = static_cast<size_t>(o.get_int("output_kb", 64)) << 10;
  return l;
}

// s with every byte that is not part of well-formed UTF-8 replaced by U+FFFD. The reason holds
// the program's own output and cuts by bytes; invalid UTF-8 there made the reward worker's JSON
// encoding throw (type_error 316) and end the worker.
std::string valid_utf8(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    size_t len = c < 0x80                   ? 1
                 : (c >= 0xC2 && c <= 0xDF) ? 2
                 : (c >= 0xE0 && c <= 0xEF) ? 3
                 : (c >= 0xF0 && c <= 0xF4) ? 4
                                            : 0;
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; k++) {
      unsigned char lo = 0x80, hi = 0xBF;
      if (k == 1 && c == 0xE0) lo = 0xA0;  // overlong
      if (k == 1 && c == 0xED) hi = 0x9F;  // surrogates
      if (k == 1 && c == 0xF0) lo = 0x90;  // overlong
      if (k == 1 && c == 0xF4) hi = 0x8F;  // above U+10FFFF
      ok = p[i + k] >= lo && p[i + k] <= hi;
    }
    if (ok) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      i++;
    }
  }
  return out;
}

RewardResult finish(int passed, int total, const std::string& note, const std::string& extracted) {
  RewardResult r;
  r.score = total > 0 ? static_cast<double>(passed) / total : 0.0;
  double all = (total > 0 && passed == total) ? 1.0 : 0.0;
  r.components = {{"pass_rate", r.score}, {"all_pass", all}};
  r.extracted = valid_utf8(extracted.size() > 2000 ? extracted.substr(0, 2000) : extracted);
  r.reason = std::to_string(passed) + "/" + std::to_string(total) + " tests passed";
  if (!note.empty() && passed < total) r.reason += ": " + valid_utf8(note);
  return r;
}

// Counts "<nonce> <i> pass" lines of the result channel.
int count_passes(const std::string& channel, const std::string& tag, int total, bool* done) {
  std::istringstream in(channel);
  std::string line;
  std::vector<bool> seen(static_cast<size_t>(total), false);
  int passed = 0;
  *done = false;
  while (std::getline(in, line)) {
    if (line.rfind(tag + " ", 0) != 0) continue;
    std::string rest = line.substr(tag.size() + 1);
    if (rest == "done") {
      *done = true;
      continue;
    }
    int i = -1;
    char word[8] = {0};
    if (std::sscanf(rest.c_str(), "%d %7s", &i, word) == 2 && i >= 0 && i < total &&
        std::string(word) == "pass" && !seen[static_cast<size_t>(i)]) {
      seen[static_cast<size_t>(i)] = true;
      passed++;
    }
  }
  return passed;
}

// Runs the harness (tests, trusted) and the server (candidate) connected; cfg is tests.json.
// prose_from >= 0: an answer without fences, whose own lines start there; top-level prose lines
// that keep it from compiling are dropped in the candidate's sandbox (server.py, _drop_prose).
RewardResult check_python(const std::string& code, nlohmann::json cfg, int total,
                          const CheckerOptions& opt, int prose_from) {
  SandboxLimits lim = limits_from(opt);
  std::string tag = nonce();
  cfg["tag"] = tag;
  SandboxSession box;
  box.write_file("harness.py", kHarnessPy);
  box.write_file("tests.json", cfg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  box.write_file("server.py", kServerPy);
  box.write_file("candidate.py", code);
  std::string py = python_path(opt);
  SandboxRequest harness{{py, "-I", "-S", "harness.py"}, "", lim, {"harness.py", "tests.json"}, ""};
  // The harness is ours: room for large replies, and never the candidate's limits to hit first.
  harness.limits.memory_bytes = std::max<uint64_t>(lim.memory_bytes, 1ull << 30);
  SandboxRequest server{{py, "-I", "server.py"}, "", lim, {"server.py", "candidate.py"}, ""};
  if (prose_from >= 0) server.argv.push_back(std::to_string(prose_from));
  std::vector<SandboxResult> r = box.run_connected(harness, server);
  bool done = false;
  int passed = count_passes(r[0].channel, tag, total, &done);
  std::string note;
  const SandboxResult& h = r[0];
  const SandboxResult& c = r[1];
  if (!h.error.empty() || !c.error.empty()) {
    note = !h.error.empty() ? h.error : c.error;
  } else if (c.memory_limit && passed < total) {
    note = "memory limit";
  } else if (h.timed_out || h.output_limit || c.output_limit) {
    note = failure_note(h.output_limit || h.timed_out ? h : c, lim);
    if (c.output_limit) note = "output limit exceeded";
  } else if (!done || passed < total) {
    note = last_line(h.output);
    if (note.empty()) note = failure_note(c, lim);
  }
  return finish(passed, total, note, code);
}

RewardResult check_python_asserts(const Answer& a, const std::string& setup,
                                  const std::vector<std::string>& tests,
                                  const CheckerOptions& opt) {
  const int total = static_cast<int>(tests.size());
  if (a.in_think) return finish(0, total, kEndsInThink, "");
  nlohmann::json cfg = {{"mode", "asserts"}, {"setup", setup}, {"tests", tests}};
  return check_python(a.code, cfg, static_cast<int>(tests.size()), opt, a.unfenced ? 0 : -1);
}

RewardResult check_humaneval(const Answer& a, const nlohmann::json& ref,
                             const CheckerOptions& opt) {
  const std::string& code = a.code;
  std::string prompt = field_string(ref, "prompt", true);
  nlohmann::json cfg = {{"mode", "humaneval"},
                        {"prompt", prompt},
                        {"test", field_string(ref, "test", true)},
                        {"entry", field_string(ref, "entry_point", true)}};
  if (a.in_think) return finish(0, 1, kEndsInThink, "");
  // The candidate program is the prompt completed, as the model saw it. A whole solution may
  // open with "from __future__ import ..." (valid where it stands): those lines go first.
  static const RE2 future_re(R"(from[ \t]+__future__[ \t]+import\b.*)");
  std::string future, body;
  std::istringstream lines(code);
  bool opening = true;  // only blank and comment lines so far
  for (std::string line; std::getline(lines, line);) {
    const size_t first = line.find_first_not_of(" \t\r");
    if (opening && first == 0 && RE2::FullMatch(line, future_re)) {
      future += line + "\n";
      continue;
    }
    if (first != std::string::npos && line[first] != '#') opening = false;
    body += line + "\n";
  }
  if (future.empty()) body = code;
  // The prompt is never prose: only the candidate's lines after it may be dropped.
  const std::string head = future + prompt;
  int own = static_cast<int>(std::count(head.begin(), head.end(), '\n'));
  if (!head.empty() && head.back() != '\n') own++;
  return check_python(head + body, cfg, 1, opt, a.unfenced ? own : -1);
}

std::string squash_ws(const std::string& s) {
  std::istringstream in(s);
  std::string w, out;
  while (in >> w) out += (out.empty() ? "" : " ") + w;
  return out;
}

// "#define NAME..." lines of g++ -dM output, by name.
std::map<std::string, std::string> macro_lines(const std::string& text) {
  std::map<std::string, std::string> m;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("#define ", 0) != 0) continue;
    size_t end = line.find_first_of(" (", 8);
    m[line.substr(8, end == std::string::npos ? std::string::npos : end - 8)] = line;
  }
  return m;
}

// The test main made callable: "int main(...) {" becomes aha_test_main with "return 0;" before
// its closing brace (the real main's implicit return does not carry over to a renamed function),
// and the test's own <cassert> includes go (ours must stay in force). The test text is trusted.
// Sets *with_args when that main takes (argc, argv). Empty when no main is found.
std::string test_main_as_function(const std::string& test, bool* with_args) {
  static const RE2 inc_re(R"((?m)^[ \t]*#[ \t]*include[ \t]*[<"](cassert|assert\.h)[>"][^\n]*)");
  std::string t = test;
  RE2::GlobalReplace(&t, inc_re, "");
  static const RE2 main_re(R"(\bint\s+main\s*\(([^)]*)\)\s*\{)");
  re2::StringPiece in(t), args;
  if (!RE2::PartialMatch(in, main_re, &args)) return "";
  std::string a(args);
  *with_args =
      a.find_first_not_of(" \t\n") != std::string::npos && a.find("void") == std::string::npos;
  re2::StringPiece whole;
  RE2::PartialMatch(in, R"((\bint\s+main\s*\([^)]*\)\s*\{))", &whole);
  size_t start = static_cast<size_t>(whole.data() - t.data());
  size_t open = start + whole.size() - 1;
  int depth = 0;
  size_t close = std::string::npos;
  for (size_t i = open; i < t.size() && close == std::string::npos; i++) {
    char ch = t[i];
    if (ch == '/' && i + 1 < t.size() && t[i + 1] == '/') {
      i = t.find('\n', i);
      if (i == std::string::npos) break;
    } else if (ch == '/' && i + 1 < t.size() && t[i + 1] == '*') {
      i = t.find("*/", i + 2);
      if (i == std::string::npos) break;
      i++;
    } else if (ch == '"' || ch == '\'') {
      for (i++; i < t.size() && t[i] != ch; i++)
        if (t[i] == '\\') i++;
    } else if (ch == '{') {
      depth++;
    } else if (ch == '}' && --depth == 0) {
      close = i;
    }
  }
  if (close == std::string::npos) return "";
  std::string renamed = "int aha_test_main(" + a + ") {";
  return t.substr(0, start) + renamed + t.substr(open + 1, close - open - 1) + "\nreturn 0;\n" +
         t.substr(close);
}

// The first lines of a test main's unit: the macro scan's whole input. A main of the candidate's
// own (a demo beside the function) becomes another function: the test main is the program's.
const char* kUnitHead = "#define main aha_candidate_main\n#include \"candidate.cpp\"\n";

RewardResult check_cpp(const Answer& a, const nlohmann::json& ref, const CheckerOptions& opt) {
  const std::string& code = a.code;
  SandboxLimits lim = limits_from(opt);
  SandboxLimits cl = lim;  // the compiler needs more room than the program
  cl.wall_s = opt.get_double("compile_timeout_s", 30.0);
  cl.cpu_s = static_cast<int>(cl.wall_s + 1);
  cl.memory_bytes = static_cast<uint64_t>(opt.get_int("compile_memory_mb", 2048)) << 20;
  cl.file_bytes = 256ull << 20;
  cl.tmp_bytes = 256ull << 20;
  std::string test_main = field_string(ref, "test", false);
  int total = 1;
  if (test_main.empty()) {
    if (!ref.contains("tests") || !ref.at("tests").is_array())
      throw std::invalid_argument(
          "code: a C++ reference needs 'test' (a main) or 'tests' ([{input, output}])");
    total = std::max<int>(1, static_cast<int>(ref.at("tests").size()));
  }
  bool main_args = false;
  std::string test_fn;
  if (!test_main.empty()) {
    test_fn = test_main_as_function(test_main, &main_args);
    if (test_fn.empty())
      throw std::invalid_argument("code: the C++ 'test' has no 'int main(...) { ... }'");
  }
  if (a.in_think) return finish(0, total, kEndsInThink, "");
  SandboxSession box;
  box.write_file("candidate.cpp", code + "\n");
  box.make_dir("out");
  auto compile_error = [&](const SandboxResult& c) {
    std::string first;
    std::istringstream in(c.output);
    for (std::string line; std::getline(in, line);)
      if (line.find("error") != std::string::npos) {
        first = line.substr(0, 160);
        break;
      }
    return finish(0, total, "compile error: " + (first.empty() ? failure_note(c, cl) : first),
                  code);
  };
  std::string unit;  // the test main's unit, which includes candidate.cpp
  std::string nonce_text = nonce();
  if (!test_main.empty()) {
    // Which macros the candidate leaves defined differently from the headers it includes. The
    // scan sees what the compile sees when it reaches the end of candidate.cpp (same flags, same
    // files, the unit on stdin opening with the same line; macros go to stdout, not to a file):
    // a macro defined only under __OPTIMIZE__, __INCLUDE_LEVEL__, __BASE_FILE__ or
    // __has_include of a file the scan alone has is defined in both or in neither.
    std::string base = "#include <bits/stdc++.h>\n";
    // System headers only: an absolute or climbing path would pull the candidate into the base.
    static const RE2 sys_inc(R"((?m)^[ \t]*#[ \t]*include[ \t]*<([A-Za-z0-9_][A-Za-z0-9_./+-]*)>)");
    re2::StringPiece in(code);
    std::string h;
    while (RE2::FindAndConsume(&in, sys_inc, &h))
      if (h.find("..") == std::string::npos) base += "#include <" + h + ">\n";
    SandboxLimits scan_lim = cl;
    scan_lim.output_bytes = 16u << 20;  // the macro lists of all the standard headers
    std::vector<std::string> scan_argv = {"/usr/bin/g++", "-std=c++17", "-O1", "-pipe", "-E",
                                          "-dM",          "-x",         "c++", "-"};
    SandboxResult p = box.run({scan_argv, kUnitHead, scan_lim, {"candidate.cpp"}, "out"});
    if (p.exit_code != 0 || p.timed_out || !p.error.empty()) return compile_error(p);
    SandboxResult pb = box.run({scan_argv, base, scan_lim, {"candidate.cpp"}, "out"});
    if (pb.exit_code != 0 || pb.timed_out || !pb.error.empty()) return compile_error(pb);
    // The macro scan and the compile share one budget: a preprocessor bomb just under the limit
    // would otherwise hold the sandbox for twice compile_timeout_s.
    cl.wall_s = std::max(1.0, cl.wall_s - p.wall_s - pb.wall_s);
    cl.cpu_s = static_cast<int>(cl.wall_s + 1);
    auto cand = macro_lines(p.output), basem = macro_lines(pb.output);
    std::string tu = kUnitHead;
    for (const auto& [name, line] : cand) {
      auto it = basem.find(name);
      if (it == basem.end() || it->second != line) tu += "#undef " + name + "\n";
    }
    tu += "#undef NDEBUG\n#undef main\n#undef assert\n#pragma pack()\n";
    tu += "#include <unistd.h>\n#include <cstring>\n";
    // Internal linkage: the candidate cannot interpose it; a failure is a trap, not a call.
    tu +=
        "static void aha_assert_failed_(const char* e) {\n"
        "  const char m[] = \"Assertion failed: \";\n"
        "  if (write(2, m, sizeof m - 1) < 0 || write(2, e, strlen(e)) < 0 ||"
        " write(2, \"\\n\", 1) < 0) {}\n"
        "  __builtin_trap();\n}\n";
    tu += "#define assert(e) (static_cast<bool>(e) ? (void)0 : aha_assert_failed_(#e))\n";
    tu += "#line 1 \"test.cpp\"\n" + test_fn + "\n#undef assert\n";
    tu += "int main(int argc, char** argv) {\n  (void)argc; (void)argv;\n";
    tu += std::string("  int rc = aha_test_main(") + (main_args ? "argc, argv" : "") + ");\n";
    tu +=
        "  if (rc != 0) return rc;\n"
        "  char buf[64];\n  ssize_t n = read(0, buf, sizeof buf);\n"
        "  if (n != 16) return 3;\n"
        "  if (write(3, buf, 16) != 16 || write(3, \" done\\n\", 6) != 6) return 3;\n"
        "  return 0;\n}\n";
    unit = tu;
  }
  std::vector<std::string> argv = {"/usr/bin/g++", "-std=c++17", "-O1", "-pipe", "-o", "out/prog"};
  // A test main arrives on stdin, read whole before candidate.cpp is: no file holds the test.
  if (unit.empty())
    argv.push_back("candidate.cpp");
  else
    argv.insert(argv.end(), {"-x", "c++", "-"});
  SandboxResult c = box.run({argv, unit, cl, {"candidate.cpp"}, "out"});
  if (c.exit_code != 0 || c.timed_out || !c.error.empty()) return compile_error(c);
  // The program leaves the writable directory: runs see it read-only.
  std::filesystem::rename(box.dir() + "/out/prog", box.dir() + "/prog");
  if (!test_main.empty()) {
    SandboxResult r = box.run({{"./prog"}, nonce_text, lim, {"prog"}, ""});
    bool ok = r.exit_code == 0 && r.term_signal == 0 && !r.timed_out && !r.output_limit &&
              r.channel == nonce_text + " done\n";
    std::string note;
    if (!ok) {
      size_t at = r.output.find("Assertion failed: ");
      note = at != std::string::npos ? last_line(r.output.substr(at))
             : r.exit_code == 0 && r.term_signal == 0 && !r.timed_out
                 ? "the test main did not finish"
                 : failure_note(r, lim);
    }
    return finish(ok ? 1 : 0, 1, note, code);
  }
  const auto& tests = ref.at("tests");
  int passed = 0;
  std::string note;
  // One run per test: without a budget for the row, a program that takes just under timeout_s
  // on each of N tests would hold a sandbox for N x timeout_s.
  double budget = opt.get_double(
      "row_timeout_s", lim.wall_s * static_cast<double>(std::min<size_t>(tests.size(), 4)));
  double spent = 0;
  for (size_t i = 0; i < tests.size(); i++) {
    const auto& t = tests[i];
    if (!t.is_object() || !t.contains("output"))
      throw std::invalid_argument("code: tests[" + std::to_string(i) + "] needs 'output'");
    char spent_note[96];
    std::snprintf(spent_note, sizeof spent_note, "test %zu: row time budget (%.1f s) spent", i + 1,
                  budget);
    if (budget - spent <= 0) {
      if (note.empty()) note = spent_note;
      continue;
    }
    std::string input = t.contains("input") ? t.at("input").get<std::string>() : "";
    SandboxLimits run_lim = lim;
    run_lim.wall_s = std::min(lim.wall_s, budget - spent);
    SandboxResult r = box.run({{"./prog"}, input, run_lim, {"prog"}, ""});
    spent += r.wall_s;
    bool ok = r.exit_code == 0 && !r.timed_out && !r.output_limit &&
              squash_ws(r.output) == squash_ws(t.at("output").get<std::string>());
    if (ok) {
      passed++;
    } else if (note.empty() && r.timed_out && run_lim.wall_s < lim.wall_s) {
      note = spent_note;
    } else if (note.empty()) {
      note = "test " + std::to_string(i + 1) + ": " +
             (r.exit_code == 0 && !r.timed_out ? std::string("wrong output")
                                               : failure_note(r, run_lim));
    }
  }
  return finish(passed, static_cast<int>(tests.size()), note, code);
}

std::vector<std::string> string_list(const nlohmann::json& ref, const std::string& name) {
  if (!ref.contains(name) || !ref.at(name).is_array())
    throw std::invalid_argument("code: reference field '" + name + "' must be a list of strings");
  std::vector<std::string> v;
  for (const auto& x : ref.at(name)) {
    if (!x.is_string())
      throw std::invalid_argument("code: reference field '" + name + "' must hold strings");
    v.push_back(x.get<std::string>());
  }
  return v;
}

}  // namespace

RewardResult check_code(const std::string& completion, const nlohmann::json& reference,
                        const CheckerOptions& options) {
  if (!reference.is_object()) throw std::invalid_argument("code: reference must be an object");
  std::string lang =
      options.get_string("language", reference.value("language", std::string("python")));
  const bool cpp = lang == "cpp" || lang == "c++";
  const Answer code = extract_code(completion, options.get_bool("extract_code", true),
                                   called_names(reference, cpp), cpp);
  if (cpp) return check_cpp(code, reference, options);
  if (lang != "python")
    throw std::invalid_argument("code: unknown language '" + lang + "' (python, cpp)");
  std::string mode = options.get_string("mode", "auto");
  if (mode == "auto") {
    if (reference.contains("entry_point"))
      mode = "humaneval";
    else if (reference.contains("test_list"))
      mode = "mbpp";
    else if (reference.contains("tests"))
      mode = "tests";
    else
      throw std::invalid_argument("code: reference has none of entry_point, test_list, tests");
  }
  if (mode == "humaneval") return check_humaneval(code, reference, options);
  if (mode == "mbpp")
    return check_python_asserts(code, field_string(reference, "test_setup_code", false),
                                string_list(reference, "test_list"), options);
  if (mode == "tests")
    return check_python_asserts(code, field_string(reference, "setup", false),
                                string_list(reference, "tests"), options);
  throw std::invalid_argument("code: unknown mode '" + mode + "' (auto, humaneval, mbpp, tests)");
}

}  // namespace aha
