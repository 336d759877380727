"""The `edgekit` command's subcommands; each module has main(argv) -> exit code (edgekit.cli's EXIT_*)."""
