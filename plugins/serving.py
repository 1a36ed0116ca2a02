"""Where a plugin's HTTP server listens (the swarm node's port) and why it could not."""

from __future__ import annotations

from engine.errors import PluginError
from engine.node_ports import NODE_PORT_STRIDE, node_index, node_port


def port_to_serve(port: int) -> int:
    """This process's port for a plugin whose option is ``port``; a ``PluginError`` if none."""
    try:
        return node_port(port)
    except ValueError as error:
        raise PluginError(str(error)) from error


def cannot_serve(what: str, addr: str, port: int, served: int, error: OSError) -> PluginError:
    """The error of a server that could not bind: what, where, and the node's share in it."""
    node = node_index()
    origin = (f" (port {port} + {NODE_PORT_STRIDE} x swarm node {node})"
              if node and port else "")
    reason = error.strerror or repr(error)
    return PluginError(f"cannot serve {what} on {addr}:{served}{origin}: {reason}",
                       "hint: stop what holds the port, or give the plugin another one (its"
                       " port option, or ENGINE_<PLUGIN>_PORT)")
