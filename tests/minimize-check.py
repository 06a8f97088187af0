#!/usr/bin/env python3
# minimize-check.py: check mitogen_minimize_source() output against Python
#
# SPDX-License-Identifier: BSD-3-Clause
#
# Usage: minimize-check.py MANIFEST
#
# Each MANIFEST line is "ORIGINAL<TAB>MINIMIZED". For every original that
# Python compiles, the minimized file must compile too, mean the same (equal
# ASTs once docstrings are set aside, every node at its original line and
# column), and be smaller if the original had a comment after line 2.
# Originals that do not compile (test data, Python 2 code) are skipped.

import ast
import io
import sys
import tokenize
import warnings

DOC_HOLDERS = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def is_string_statement(node):
    return (isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, (str, bytes)))


def docstring_positions(tree):
    return {(node.body[0].lineno, node.body[0].col_offset)
            for node in ast.walk(tree)
            if isinstance(node, DOC_HOLDERS)
            and node.body and is_string_statement(node.body[0])}


def set_docstrings_aside(tree, positions):
    # A docstring may have been dropped, swapped for `pass` at its place, or
    # left where dropping it was not worth it; all of those look alike here.
    for node in ast.walk(tree):
        if isinstance(node, DOC_HOLDERS) and node.body:
            first = node.body[0]
            if ((first.lineno, first.col_offset) in positions
                    and (is_string_statement(first)
                         or isinstance(first, ast.Pass))):
                del node.body[0]
    return tree


def shape(tree, positions):
    tree = set_docstrings_aside(tree, positions)
    nodes = [(type(node).__name__, node.lineno, node.col_offset)
             for node in ast.walk(tree) if hasattr(node, 'lineno')]
    return ast.dump(tree), nodes


def has_droppable_comment(data):
    try:
        tokens = list(tokenize.tokenize(io.BytesIO(data).readline))
    except UnicodeDecodeError:
        # compile() lets bad UTF-8 pass in comments; tokenize does not.
        text = data.decode('utf-8', 'replace')
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    return any(tok.type == tokenize.COMMENT and tok.start[0] > 2
               for tok in tokens)


def compiles(data, path):
    try:
        compile(data, path, 'exec', dont_inherit=True)
        return True
    except (SyntaxError, ValueError):
        return False


def check(original_path, minimized_path):
    """Returns None when all is well, else why not."""
    with open(original_path, 'rb') as f:
        original = f.read()
    with open(minimized_path, 'rb') as f:
        minimized = f.read()

    try:
        compile(minimized, original_path, 'exec', dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        return 'minimized source does not compile: %s' % (e,)
    original_tree = ast.parse(original)
    positions = docstring_positions(original_tree)
    if shape(original_tree, positions) != shape(ast.parse(minimized),
                                               positions):
        return 'minimized source means something else'
    if len(minimized) > len(original):
        return 'minimized source is bigger'
    if has_droppable_comment(original) and len(minimized) >= len(original):
        return 'comments were not removed'
    return None


def main(manifest_path):
    checked = skipped = failed = 0
    with open(manifest_path) as manifest:
        pairs = [line.rstrip('\n').split('\t') for line in manifest]

    for original_path, minimized_path in pairs:
        with open(original_path, 'rb') as f:
            if not compiles(f.read(), original_path):
                print('SKIP %s: does not compile as it is' % original_path)
                skipped += 1
                continue
        checked += 1
        problem = check(original_path, minimized_path)
        if problem:
            print('FAIL %s: %s (see %s)' % (original_path, problem,
                                             minimized_path))
            failed += 1

    print('checked %d, skipped %d, failed %d' % (checked, skipped, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        sys.exit(main(sys.argv[1]))
