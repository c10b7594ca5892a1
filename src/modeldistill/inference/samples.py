"""Constants shared by build and runtime stages, so that neither imports the other for them."""

from __future__ import annotations

# Texts for export's self-check of ONNX and int8 against PyTorch, and bench's inputs without
# --data: short, long, neutral and hostile, so that padding and both ends of the scores are hit.
CHECK_TEXTS = [
    "I like this forum, the people here are friendly.",
    "They are vermin and should all be kicked out of the country.",
    "Not sure what this post is about.",
    "As he said above, they do that every time.",
    "Those people are subhuman and deserve nothing.",
    "The weather is nice today, see you at the meeting.",
    "Whatever.",
    "Our heritage is worth celebrating with our families this weekend.",
    "Send them all back where they came from, we do not want them here.",
    "Thanks for the link, I will read the article tonight.",
    "This thread is a mess, can a moderator lock it?",
    "Same as the post before.",
]
