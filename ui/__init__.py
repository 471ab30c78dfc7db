"""What the pages share: the scenario sidebar with URL sync, and cached wrappers of core."""
