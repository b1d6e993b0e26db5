"""Workbench panels, one file each; every panel binds its controls to Session traits."""
