"""argparse speaking Portuguese: the usage line, the headings, ``-h`` and argparse's own error
messages of the ``licitacao`` command."""

from __future__ import annotations

import argparse
import re
import sys


class _Formatter(argparse.HelpFormatter):
    """argparse's help, its usage line headed in Portuguese."""

    def add_usage(self, usage, actions, groups, prefix=None):
        super().add_usage(usage, actions, groups, "uso: " if prefix is None else prefix)


class RawFormatter(_Formatter, argparse.RawDescriptionHelpFormatter):
    pass


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose own texts (headings, -h, the error line) are in Portuguese; the
    sub-commands' parsers are of this class too."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "argumentos"
        self._optionals.title = "opções"
        self.add_argument("-h", "--help", action="help", help="mostra esta ajuda e sai")

    def error(self, message: str):
        for english, portugues in _ARGPARSE:
            message = english.sub(portugues, message)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: erro: {message}\n")


# argparse's own error messages (Python 3.11 to 3.13), in Portuguese.
_ARGPARSE = [
    (re.compile(english), portugues)
    for english, portugues in (
        (r"^argument ", "argumento "),
        (r"the following arguments are required", "faltam os argumentos"),
        (r"unrecognized arguments", "argumentos não reconhecidos"),
        (r"invalid choice", "escolha inválida"),
        (r"\(choose from ", "(escolha entre "),
        (r"expected one argument", "esperava um argumento"),
        (r"expected at least one argument", "esperava ao menos um argumento"),
        (r"invalid (\w+) value", r"valor \1 inválido"),
        (r"ambiguous option: (.*) could match", r"opção ambígua: \1 pode ser"),
        (r"not allowed with argument", "não pode ir com o argumento"),
    )
]
