"""The package itself (salesml/__init__.py): what importing salesml does to the process."""

import subprocess
import sys

import pytest


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_notebooks_are_read_and_validated_without_jsonschemas_iri_checker():
    """nbformat (papermill's, every report) and plotly's widgets (the workbench) import jsonschema,
    whose IRI checker takes 1.5-2 s to import; after `import salesml` it is not loaded, and
    notebooks are still validated (a broken one is refused) and other formats still checked."""
    pytest.importorskip("rfc3987_syntax")  # installed with Jupyter's jsonschema[format-nongpl]
    out = _run(
        "import sys, salesml, nbformat, jsonschema\n"
        "from salesml import dashboard\n"
        "nb = nbformat.read(dashboard.NOTEBOOK, as_version=4)\n"
        "nbformat.validate(nb)\n"
        "nb.cells[0]['cell_type'] = 'no such type'\n"
        "try:\n    nbformat.validate(nb)\nexcept nbformat.ValidationError:\n    print('refused')\n"
        "check = jsonschema.FormatChecker()\n"
        "print(check.conforms('2026-12-07', 'date'), check.conforms('2026-13-45', 'date'), check.conforms('not an iri', 'iri'))\n"
        "print('rfc3987_syntax' in sys.modules and sys.modules['rfc3987_syntax'] is not None)\n"
    )
    assert out.splitlines() == ["refused", "True False True", "False"]


def test_a_process_that_imported_jsonschema_first_keeps_its_iri_checker():
    pytest.importorskip("rfc3987_syntax")
    out = _run(
        "import jsonschema, salesml\n"
        "check = jsonschema.FormatChecker()\n"
        "print(check.conforms('not an iri', 'iri'), check.conforms('https://example.com/a', 'iri'))\n"
    )
    assert out == "False True"
