"""Models in and out of Vibe, judged by policy and recorded in the ledger (``trainers.hf`` does the work).

:func:`import_base_model` (``model.import``: an HF directory or a GGUF file from an allowed model root) and
:func:`export_model` (``model.convert``: a run as an HF directory inside the network). Importing this package
registers the agent tools ``model_import`` and ``model_export``.
"""

from tools.model import _tool  # noqa: F401  (registers the tools)
from tools.model._run import export_model, import_base_model
from tools.model._tool import ModelIOArgs

__all__ = ["ModelIOArgs", "export_model", "import_base_model"]
