"""The shipahead command-line interface (typer). Owns files, config, progress and exit codes."""
