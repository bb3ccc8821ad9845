"""Command-line adapters: one module per subcommand. Only this package prints or exits."""
