"""Templates, data files and the rendering helper of the generated reports under docs/."""
