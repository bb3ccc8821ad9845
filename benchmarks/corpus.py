"""Write the labelled test corpus (tests/builders/corpus.py) to a folder, with its manifest.json.

The corpus holds one file (or one package folder) per malicious technique and real benign files made
by the installed libraries; payloads are harmless. Benchmarks and peer comparisons read it back.

    .venv/bin/python benchmarks/corpus.py /tmp/modelcert-corpus
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from builders.corpus import main

if __name__ == "__main__":
    sys.exit(main())
