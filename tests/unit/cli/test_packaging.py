"""The CLI installs alone (`pip install ./cli`): it never imports the service's package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import chronos_cli

CLI_ROOT = Path(chronos_cli.__file__).resolve().parents[1]


def test_importing_every_module_loads_no_chronos_core() -> None:
    code = (
        "import pkgutil, sys, chronos_cli\n"
        "for m in pkgutil.walk_packages(chronos_cli.__path__, 'chronos_cli.'):\n"
        "    if m.name != 'chronos_cli.__main__':\n"
        "        __import__(m.name)\n"
        "assert 'chronos_core' not in sys.modules, 'chronos_core imported'\n"
        "print(len([n for n in sys.modules if n.startswith('chronos_cli')]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(CLI_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 20


def test_the_package_declares_its_entry_point() -> None:
    text = (CLI_ROOT / "pyproject.toml").read_text()
    assert 'chronos = "chronos_cli.app:main"' in text
    assert "chronos_core" not in text
