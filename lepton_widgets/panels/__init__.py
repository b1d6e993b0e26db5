"""Widget panels, one file each, binding controls to Session traits. Filled by the workbench issue."""
