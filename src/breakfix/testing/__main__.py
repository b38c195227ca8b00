"""``python -m breakfix.testing``: run the OpenAI-compatible test server."""

from breakfix.testing.server import main

main()
