"""Packaging shim: metadata lives in setup.cfg; the package list and its one mapping live here.

The first-party plugins live in the ``plugins/`` folder but install as ``engine_plugins``: a
top-level ``plugins`` package would collide with any other distribution that ships one.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["engine", "engine.*"]), "engine_plugins",
              "engine_plugins.web"],
    package_dir={"engine_plugins": "plugins"},
)
