"""Evaluates the small part of HCL's expression language that the IAM policies here use, over
python-hcl2's output (string literals keep their quotes, expressions come as "${...}").

Supported: string templates, references (local.x, var.x, statement.value), list and map
literals, index (a[b]), `for` expressions over lists and maps, `cond ? a : b`, `== null`,
`!= null`. Anything else raises Unsupported naming the expression, so a policy written in a
new way fails the tests until the evaluator is taught it, instead of being skipped.
"""

import re


class Unsupported(Exception):
    pass


TOKEN = re.compile(r"""\s*(?:(?P<str>"(?:[^"\\$]|\\.|\$(?!\{)|\$\{(?:[^{}]|\{[^{}]*\})*\})*")|(?P<num>\d+)|(?P<op>==|!=|=>|[\[\]{}(),:?])|(?P<id>[A-Za-z_][A-Za-z0-9_.\-]*))""")


def tokenize(text):
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Unsupported(f"cannot read {text[pos:]!r} in {text!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class Parser:
    def __init__(self, text, env):
        self.text, self.env = text, env
        self.tokens, self.i = tokenize(text), 0

    def peek(self, value=None):
        if self.i >= len(self.tokens):
            return None
        tok = self.tokens[self.i]
        return tok if value is None or tok[1] == value else None

    def take(self, value=None):
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise Unsupported(f"expected {value!r} at token {self.i} of {self.text!r}")
        self.i += 1
        return tok

    def parse(self):
        v = self.expr()
        if self.peek() is not None:
            raise Unsupported(f"trailing {self.tokens[self.i:]} in {self.text!r}")
        return v

    def expr(self):
        v = self.comparison()
        if self.peek("?"):
            self.take("?")
            a = self.expr()
            self.take(":")
            b = self.expr()
            return a if v else b
        return v

    def comparison(self):
        v = self.postfix()
        for op in ("==", "!="):
            if self.peek(op):
                self.take(op)
                w = self.postfix()
                return (v == w) if op == "==" else (v != w)
        return v

    def postfix(self):
        v = self.primary()
        while self.peek("["):
            self.take("[")
            key = self.expr()
            self.take("]")
            v = v[key]
        return v

    def primary(self):
        kind, value = self.take()
        if kind == "str":
            return template(value[1:-1], self.env)
        if kind == "num":
            return int(value)
        if kind == "id":
            if value in ("null", "true", "false"):
                return {"null": None, "true": True, "false": False}[value]
            if value not in self.env:
                raise Unsupported(f"unknown reference {value} in {self.text!r}")
            return self.env[value]
        if value == "[":
            if self.peek("for"):
                return self.for_expr("]")
            items = []
            while not self.peek("]"):
                items.append(self.expr())
                if self.peek(","):
                    self.take(",")
            self.take("]")
            return items
        if value == "{":
            if self.peek("for"):
                return self.for_expr("}")
        raise Unsupported(f"{value!r} in {self.text!r}")

    def for_expr(self, close):
        self.take("for")
        names = [self.take()[1]]
        if self.peek(","):
            self.take(",")
            names.append(self.take()[1])
        self.take("in")
        collection = self.expr()
        self.take(":")
        body, end = self.i, self.closing(self.i)
        pairs = collection.items() if isinstance(collection, dict) else enumerate(collection)
        results = [] if close == "]" else {}
        for k, v in pairs:
            inner = Parser.__new__(Parser)
            inner.text, inner.tokens, inner.i = self.text, self.tokens[:end], body
            bound = [v] if len(names) == 1 else [k, v]
            inner.env = Scope(self.env, dict(zip(names, bound)))
            if close == "]":
                results.append(inner.expr())
            else:
                key = inner.expr()
                inner.take("=>")
                results[key] = inner.expr()
            if inner.i != end:
                raise Unsupported(f"a for expression's body in {self.text!r}")
        self.i = end
        self.take(close)
        return results

    def closing(self, i):
        """Index of the bracket closing the one open before token i."""
        depth = 0
        for j in range(i, len(self.tokens)):
            kind, v = self.tokens[j]
            if kind == "op" and v in "[{(":
                depth += 1
            elif kind == "op" and v in "]})":
                if depth == 0:
                    return j
                depth -= 1
        raise Unsupported(f"unbalanced brackets in {self.text!r}")


class Scope:
    """Names bound by a `for`, over the enclosing names (which may be computed lazily)."""

    def __init__(self, parent, names):
        self.parent, self.names = parent, names

    def __contains__(self, key):
        return key in self.names or key in self.parent

    def __getitem__(self, key):
        return self.names[key] if key in self.names else self.parent[key]


def template(text, env):
    """A string literal's contents, with ${...} interpolations evaluated."""
    out, pos = [], 0
    while True:
        start = text.find("${", pos)
        if start < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:start])
        depth, j = 0, start + 1
        while True:
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        out.append(str(Parser(text[start + 2 : j], env).parse()))
        pos = j + 1
    return "".join(out).replace('\\"', '"')


def value(raw, env):
    """A python-hcl2 attribute value, evaluated."""
    if isinstance(raw, list):
        return [value(x, env) for x in raw]
    if isinstance(raw, (int, float, bool)) or raw is None:
        return raw
    if raw.startswith("${") and raw.endswith("}"):
        return Parser(raw[2:-1], env).parse()
    if raw.startswith('"') and raw.endswith('"'):
        return template(raw[1:-1], env)
    return raw


def unquote(raw):
    return raw[1:-1] if isinstance(raw, str) and raw.startswith('"') else raw
