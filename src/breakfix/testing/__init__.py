"""Local stand-ins for a user's model, for tests and benchmarks: a scripted target and an OpenAI-compatible server.

Use them to try a config, an attack or a judge end to end without a GPU or a network.
"""

from breakfix.testing.server import FaultProfile, OpenAITestServer, serve
from breakfix.testing.targets import ScriptedBackend, scripted_target

__all__ = ["FaultProfile", "OpenAITestServer", "ScriptedBackend", "scripted_target", "serve"]
