"""First-party plugins, registered under the ``engine.plugins`` entry-point group."""
