"""The fusion methods' names, what each does in one line, and the file a fused run describes itself in.

Both the checks (``fuse.py``) and the engine (``run.py``) read these, so they live apart from both.

Example:
    >>> METHODS[0], "greedy-soup" in SOUPS, FUSION_FILE
    ('ensemble', True, 'fusion.json')
"""

METHODS = ("ensemble", "uniform-soup", "greedy-soup", "distill")
SOUPS = ("uniform-soup", "greedy-soup")
FUSION_FILE = "fusion.json"

#: What each method does, in one line (CLI help and the Fusion panel).
DESCRIPTIONS = {
    "ensemble": "average the members' predictions with weights optimised on the validation split",
    "uniform-soup": "average the members' weights (same architecture and initial weights)",
    "greedy-soup": "add members to a weight average while validation accuracy does not drop",
    "distill": "train one member-sized model on the ensemble's soft labels",
}
