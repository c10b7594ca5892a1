"""The data stage: settings (`config`), file readers (`readers`), the splits (`splits`), several sources as one task (`sources/`) and the `data` command (`cli`)."""
