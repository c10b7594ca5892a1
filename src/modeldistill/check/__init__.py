"""The behavioural check: `run` scores a classifier on the sentences of `modeldistill.synthetic`; `cli` is the `check` command."""
