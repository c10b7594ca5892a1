"""Sentences written in this repository: the lexicon of protected groups, the frames of the behavioural check and the disjoint training frames, and the generator that fills them."""
