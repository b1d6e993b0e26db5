"""Apps that compose panels into the workbench. Filled by the workbench issue."""
