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

# With CHECK_TEXTS, what calibrates static int8 quantisation when export has no --data (no
# training texts): everyday and hostile posts of many lengths, so activation ranges cover short
# and padded rows. A model exported with --data is calibrated on its training texts instead.
CALIBRATION_FALLBACK = [
    "ok",
    "lol no",
    "Good morning everyone!",
    "Does anyone know when the next meetup is?",
    "I disagree with you, but thanks for explaining your view so clearly.",
    "Get out of here, nobody wants your kind around.",
    "My grandmother came to this country with nothing and built a life for all of us.",
    "Those people ruin every neighbourhood they move into.",
    "Can someone recommend a good book about the history of the region?",
    "We had a great time at the festival, the music and the food were wonderful.",
    "They are animals, all of them.",
    "See the link in my previous post for the full list of events this summer.",
    "I do not care what you think, this is my opinion and I will keep it.",
    "Welcome to the forum, please read the rules before posting.",
    "They should never have been allowed in, and now look at what happened to our town.",
    "Haha that is hilarious",
    "Reported for spam.",
    "The article says unemployment fell by two percent last year, which is good news for "
    "families in the north, although prices are still rising faster than wages.",
    "Nobody asked for your opinion, go back to your own country.",
    "Thank you all for the kind messages after my surgery, I am feeling much better now and "
    "hope to be back at work next week, the doctors say the recovery is going well.",
    "What time does the shop close on Sundays?",
    "I hate Mondays.",
    "These immigrants are taking over and the government does nothing.",
    "Please keep the discussion civil, personal attacks will be removed.",
    "Interesting point, I had not thought of it that way before.",
    "?",
    "Same here.",
    "Their culture is disgusting and has no place in a civilised society.",
    "The match last night was incredible, what a goal in the final minute!",
    "I moved here ten years ago and I have never felt more at home than in this small town "
    "by the sea, where the neighbours know your name and help when you need it.",
]
