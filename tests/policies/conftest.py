"""Import paths for the policies tests, whatever layout the rest of ``tests/`` settles on.

The tests import the in-tree ``policies`` package and the sibling helper module
``policies_strategies`` by plain name. Depending on whether ``tests/`` is a package and
whether the project is installed, pytest may put neither the repository root nor this
directory on ``sys.path``; this adds whichever is missing. (``tests/policies/__init__.py``
is only safe while ``tests/__init__.py`` exists: without it this directory would be
imported under the name ``policies`` and shadow the real package.)
"""

import importlib.util
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parents[1]

if importlib.util.find_spec("policies") is None:  # pragma: no cover - depends on the setup
    sys.path.insert(0, str(_ROOT))
if str(_HERE) not in sys.path:  # pragma: no cover - depends on the setup
    sys.path.append(str(_HERE))
