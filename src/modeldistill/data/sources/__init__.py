"""Several labelled sources in one binary hate / not_hate task: readers, the recipe, the build."""
