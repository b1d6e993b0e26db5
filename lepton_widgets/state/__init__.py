"""Session state between the engine and the widgets (traitlets). Filled by the workbench issue."""
