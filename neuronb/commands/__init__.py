"""Subcommands of the `neuronb` command contributed by the research systems. Written by hand.

Every module here defines `add_parser(subparsers)`, which adds one subcommand and sets its `func`
(a function of the parsed arguments returning an exit code); `neuronb.cli.build_parser` picks up all
of them. The modules themselves are exported from the systems' notebooks."""
