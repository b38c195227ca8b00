"""Jobs: the only code that connects stages. The CLI and the cycle call the same jobs."""
