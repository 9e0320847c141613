"""Sentence texts of the simulated corpora.

CREMA-D: the 12 real sentence codes and texts (Cao et al., 2014). MSP-IMPROV: the real corpus's 20
target sentences are not reproduced here; the simulation uses 20 stand-in sentences of similar
length and style (S01..S20) and a pool of conversational sentences for the improvised (S) and
natural-interaction (P) recordings. Only their phone content matters to the pipeline.
"""

CREMA_D_SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}

# Stand-ins for MSP-IMPROV's 20 target sentences (not the real texts).
MSP_IMPROV_TARGET_SENTENCES = [
    "I am going to the store now",
    "Can you believe what she said",
    "We had a party at my house",
    "The exam was easier than I thought",
    "Why did you eat all the food",
    "He bought a new car last week",
    "I have to leave early today",
    "That movie was really sad",
    "They cancelled the game again",
    "My sister is coming to visit",
    "You never call me back",
    "I lost my keys this morning",
    "We won the match last night",
    "The dog ran away yesterday",
    "I need a little more time",
    "Let us meet after class",
    "She gave me a beautiful gift",
    "Nobody told me about the meeting",
    "I finally finished the project",
    "It is raining outside again",
]

# Conversational turns for the improvised (S) and natural interaction (P) recordings.
MSP_IMPROV_CONVERSATION = [
    "Yeah I know what you mean",
    "Oh really that is great",
    "I do not think so",
    "What are you talking about",
    "Well maybe we can try again",
    "That sounds like a good plan",
    "I am so tired of this",
    "Come on just tell me",
    "Okay I will see you later",
    "No way that is amazing",
    "I guess it is fine",
    "Why would you do that",
    "Thank you so much for the help",
    "Let me think about it",
    "I was really happy about it",
    "Please do not be mad at me",
]
